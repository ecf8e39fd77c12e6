#!/usr/bin/env bash
# The whole test suite, from a fresh machine with Python 3.11: creates .venv if needed, installs
# csdesk with its dev extra, starts throwaway PostgreSQL and MariaDB servers for the storage tests
# (scripts/db-servers.sh), then runs pytest (tests, docs code, docstrings, examples), mypy
# --strict, ruff check, ruff format --check, mkdocs build --strict (Graphviz draws the state
# diagrams) and a look at the built docs in headless Chromium with no network
# (scripts/docs_screenshots.py). Fails when any part fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's packages for the docs: Graphviz draws the state diagrams when the docs are built;
# Chromium and its driver open the built pages to check they show them, offline. As root on
# Debian this installs what is missing; elsewhere install them yourself.
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "check.sh: installing ${need[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >&2
  else
    echo "check.sh: missing ${need[*]}: the docs build or their screenshot check will fail" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

# The storage tests run on real PostgreSQL and MariaDB servers too: start them here unless the
# caller gave their URLs. As root on Debian this installs what is missing; elsewhere those tests
# skip (and fail under CI=true, which never skips them).
if [ -z "${CSDESK_POSTGRES_URL:-}" ] || [ -z "${CSDESK_MARIADB_URL:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    eval "$(bash scripts/db-servers.sh start)"
    trap 'bash scripts/db-servers.sh stop >/dev/null 2>&1 || true' EXIT
  else
    echo "check.sh: no database servers (not root on Debian); their tests will skip" >&2
  fi
fi

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
site=$(mktemp -d)
step .venv/bin/mkdocs build --strict --quiet --site-dir "$site"
step .venv/bin/python scripts/docs_screenshots.py "$site"

if [ "$status" -ne 0 ]; then
  echo "check.sh: some steps failed" >&2
fi
exit "$status"
