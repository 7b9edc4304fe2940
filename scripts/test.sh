#!/usr/bin/env bash
# Set everything up and run the whole test suite (SQLite and a throwaway PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/venv.sh
export QT_QPA_PLATFORM=offscreen
# The run starts hundreds of Python processes (workers, servers, commands, tills). With
# PYTHONDONTWRITEBYTECODE set, each of them compiled again every module it imports, and each
# worker parsed and rewrote every test module again (about 9 s of CPU a worker): keep the
# bytecode, but in the venv, not beside the sources.
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then
    unset PYTHONDONTWRITEBYTECODE
    export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$PWD/.venv/pycache}"
fi
echo "== ruff"
.venv/bin/ruff check .
echo "== import contracts"
.venv/bin/lint-imports --no-cache
echo "== types (strict for common/, the till's services, store and settings, and the server's services)"
.venv/bin/mypy common pos_client sync_server
echo "== pytest"
# Two workers (one per core); a test file stays on one worker so its fixtures are shared.
# Files go to the workers in the order tests/conftest.py gives them (long ones first), not
# re-sorted by their number of tests.
exec .venv/bin/pytest -q -n "${STOCKPILOT_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
