#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: venv + packages, local services
# (PostgreSQL, Redis, MariaDB + WordPress), then ruff, the import rules (import-linter),
# mypy --strict and pytest.
#   scripts/test.sh [pytest args…]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --dev
bash scripts/services.sh
echo "== ruff";  .venv/bin/ruff check publisher channels tasks tests bench
.venv/bin/ruff format --check publisher channels tasks tests bench
echo "== import rules"; .venv/bin/lint-imports
echo "== mypy (strict)"; .venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider -q "$@"
