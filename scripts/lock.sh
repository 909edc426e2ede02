#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml with pip-tools: requirements.txt (what the
# service runs) and requirements-dev.txt (that, plus the tests' and tools' packages), every
# package at one exact version with its hashes. scripts/bootstrap.sh installs from them.
#   scripts/lock.sh            keep the versions already locked; add what pyproject.toml now needs
#   scripts/lock.sh --upgrade  move every package to the newest version pyproject.toml allows
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q "pip-tools>=7.4"
compile() {
    CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" .venv/bin/pip-compile --quiet --generate-hashes \
        --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links "$@"
}
compile "${@}" --output-file requirements.txt pyproject.toml
# the dev lock agrees with the runtime lock on every package the two share
compile "${@}" --extra dev --constraint requirements.txt --output-file requirements-dev.txt pyproject.toml
echo "locked: requirements.txt ($(grep -c '^[a-z]' requirements.txt) packages), requirements-dev.txt ($(grep -c '^[a-z]' requirements-dev.txt) packages)"
