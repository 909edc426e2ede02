#!/usr/bin/env bash
# Set up and run the service on its embedded default: SQLite in ./var, the in-process
# executor, the sample items loaded and published to the public feeds and pages.
#   scripts/run.sh [--host 127.0.0.1] [--port 8000]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PUBLISHER_DATA_DIR="${PUBLISHER_DATA_DIR:-$PWD/var}"
mkdir -p "$PUBLISHER_DATA_DIR"
.venv/bin/publisher migrate
tokens="$PUBLISHER_DATA_DIR/demo-tokens.txt"
if [ ! -s "$tokens" ]; then
    {
        for role in editor reviewer approver ops admin; do
            token=$(.venv/bin/publisher user add "demo-$role" --role "$role" --password "demo-$role-pass" --json \
                | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["token"])')
            printf '%s\t%s\t%s\n' "demo-$role" "demo-$role-pass" "$token"
        done
    } > "$tokens"
    chmod 600 "$tokens"
fi
.venv/bin/publisher load-samples
echo
echo "演示账号与令牌 / demo users and API tokens: $tokens"
exec .venv/bin/publisher serve "$@"
