#!/usr/bin/env bash
# Create .venv and install the project into it from the lock files: requirements.txt, or
# requirements-dev.txt with --dev (exact versions with their hashes; `bash scripts/lock.sh`
# regenerates them from pyproject.toml). Usage: scripts/bootstrap.sh [--dev]
# Idempotent: re-installs only when pyproject.toml or the lock changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
    for p in python3.13 python3.12 python3.11 python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$p"; return
        fi
    done
    return 1
}

PY=$(pick_python) || {
    echo "需要 Python 3.11 或更新版本 / Python >= 3.11 is required; installing Debian's python3" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-dev >/dev/null
    PY=$(pick_python)
}
if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -m venv .venv 2>/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        rm -rf .venv && "$PY" -m venv .venv
    fi
fi
# pip -q, without the one warning per package a machine-wide pip.conf pointing at missing
# local mirrors prints ("Location … is ignored"); every other message and pip's exit status stay
pip_quiet() {
    { .venv/bin/pip install -q "$@" 2>&1 1>&3 | { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2; } 3>&1
}
lock="requirements.txt"
stamp=".venv/.installed"
if [ "${1:-}" = "--dev" ]; then lock="requirements-dev.txt"; stamp=".venv/.installed-dev"; fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "== installing publisher into .venv from $lock"
    pip_quiet --require-hashes --no-deps -r "$lock"
    # the project itself, editable, its dependencies being exactly the locked ones above
    pip_quiet --no-deps -e .
    touch "$stamp"
fi
