#!/usr/bin/env bash
# Mutation testing with mutmut over the modules that carry the rules (docs/testing.md has the
# scores and every surviving mutant with why). A group mutates one module or a few (MODULE,
# space-separated). Each group runs in a scratch copy of the
# checkout, so `mutants/` and mutmut's cache never touch the working tree; only the tests
# that exercise the module run against each mutant (mutmut picks, per mutated function, the
# selected tests that reach it).
#   scripts/mutation.sh                  every group (long: see docs/testing.md for times)
#   scripts/mutation.sh policy signing   the named groups
#   KEEP=1 scripts/mutation.sh policy    keep the scratch copy (inspect with `mutmut show <name>`)
#   ONLY='channels.egress.x_address_problem*' scripts/mutation.sh egress
#                                        only the mutants of the functions named (mutmut's globs)
# Needs the dev install (mutmut) and, for the store-backed groups, PostgreSQL as for the tests.
# ARGS[group] adds pytest arguments (TOML list items): the store-backed groups run their tests
# on SQLite only ("-k not postgres"), which halves the run; the rules are the same SQL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

declare -A MODULE TESTS ARGS
MODULE[policy]="publisher/delivery/policy.py"
TESTS[policy]="tests/publisher/delivery/test_policy.py"
MODULE[signing]="channels/signing.py"
TESTS[signing]="tests/channels/test_signing.py tests/channels/test_webhook.py"
MODULE[webhook]="channels/webhook.py"
TESTS[webhook]="tests/channels/test_webhook.py"
MODULE[docnumber]="publisher/domain/docnumber.py"
TESTS[docnumber]="tests/publisher/domain/test_docnumber.py tests/system/test_properties.py tests/channels/test_rss.py"
MODULE[sanitize]="publisher/domain/sanitize.py"
TESTS[sanitize]="tests/publisher/domain/test_sanitize.py tests/security/test_output_html.py tests/system/test_properties.py"
MODULE[egress]="channels/egress.py"
TESTS[egress]="tests/security/test_egress.py tests/security/test_egress_connect.py"
MODULE[calendar]="publisher/compliance/calendar.py"
TESTS[calendar]="tests/publisher/compliance/test_calendar.py tests/publisher/compliance/test_deadlines.py"
ARGS[calendar]='"-k", "not postgres"'
MODULE[deadlines]="publisher/compliance/deadlines.py"
TESTS[deadlines]="tests/publisher/compliance/test_deadlines.py tests/publisher/compliance/test_deadlines_open_only.py"
ARGS[deadlines]='"-k", "not postgres"'
MODULE[ledger]="publisher/delivery/ledger.py"
TESTS[ledger]="tests/publisher/delivery/test_ledger.py tests/publisher/delivery/test_failure_kinds.py"
ARGS[ledger]='"-k", "not postgres"'
MODULE[workflow]="publisher/editorial/workflow.py"
TESTS[workflow]="tests/publisher/editorial/test_four_eyes.py tests/publisher/editorial/test_workflow.py tests/publisher/editorial/test_workflow_rules.py"
ARGS[workflow]='"-k", "not postgres"'
# 索取号: the number's pattern and the per-year counter it takes its serials from
MODULE[indexno]="publisher/editorial/indexno.py publisher/store/indexcounter.py"
TESTS[indexno]="tests/publisher/store/test_indexcounter.py tests/publisher/editorial/test_workflow_rules.py tests/publisher/editorial/test_workflow.py"
# the counter's own tests on both databases (its upsert is written per dialect), the rest on SQLite
ARGS[indexno]='"-k", "not postgres or indexcounter"'
ALL="policy signing webhook docnumber sanitize egress calendar deadlines ledger workflow indexno"

groups=${*:-$ALL}
for g in $groups; do
    [ -n "${MODULE[$g]:-}" ] || { echo "unknown group $g (known: $ALL)" >&2; exit 2; }
done

for g in $groups; do
    work=$(mktemp -d "/tmp/publisher-mutation-$g.XXXX")
    git ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 cp --parents -t "$work") 2>/dev/null || true
    ln -s "$ROOT/.venv" "$work/.venv"
    tests=$(printf '"%s", ' ${TESTS[$g]})
    modules=$(printf '"%s", ' ${MODULE[$g]})
    cat >> "$work/pyproject.toml" <<TOML

[tool.mutmut]
source_paths = ["publisher", "channels", "tasks"]
only_mutate = [${modules%, }]
pytest_add_cli_args_test_selection = [${tests%, }]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"${ARGS[$g]:+, ${ARGS[$g]}}]
also_copy = ["config", "docs", "scripts", "bench"]
TOML
    echo "== $g: ${MODULE[$g]} against ${TESTS[$g]}"
    started=$(date +%s)
    (cd "$work" && set -f && "$ROOT/.venv/bin/mutmut" run --max-children "${JOBS:-2}" ${ONLY:-} >/dev/null 2>&1 || true)
    (cd "$work" && "$ROOT/.venv/bin/mutmut" results --all true 2>/dev/null) | { if [ -n "${ONLY:-}" ]; then grep -v ': not checked'; else cat; fi; } > "$work/results.txt" || true
    total=$(grep -c ': ' "$work/results.txt" || true)
    killed=$(grep -c ': killed' "$work/results.txt" || true)
    echo "   $killed of $total mutants killed in $(( $(date +%s) - started )) s; survivors:"
    grep -v ': killed' "$work/results.txt" | sed 's/^/     /' || true
    [ "${KEEP:-0}" = 1 ] && echo "   kept: $work" || rm -rf "$work"
done
