#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Python 3.11: creates .venv if needed, installs
# csdesk with its dev extra, then runs pytest (tests, docs code, docstrings, examples), mypy
# --strict, ruff check, ruff format --check and mkdocs build --strict. Fails when any part fails.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

export NO_MKDOCS_2_WARNING=1
status=0
step() {
  echo "==> $*"
  if ! "$@"; then
    echo "FAILED: $*" >&2
    status=1
  fi
}

step .venv/bin/python -m pytest
step .venv/bin/python -m mypy
step .venv/bin/ruff check .
step .venv/bin/ruff format --check .
step .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"

if [ "$status" -ne 0 ]; then
  echo "check.sh: some steps failed" >&2
fi
exit "$status"
