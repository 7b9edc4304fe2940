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
# bytecode, where Python keeps it by default (__pycache__ beside each module, git-ignored;
# the libraries' own, compiled when pip installed them, are then used as they are).
unset PYTHONDONTWRITEBYTECODE
# On a fresh checkout the pytest workers would each compile our modules and rewrite every
# test module's asserts at the same time (~12 s of CPU each, ~3.5 s once cached): one
# collection writes them once, on the second core while the checks below run on the first.
collecting=
if ! compgen -G "tests/__pycache__/conftest.*-pytest-*.pyc" > /dev/null; then
    .venv/bin/pytest -q --collect-only -p no:cacheprovider "$@" > /dev/null 2>&1 &
    collecting=$!
fi
echo "== ruff"
.venv/bin/ruff check .
echo "== import contracts"
.venv/bin/lint-imports --no-cache
echo "== types (strict for common/, the till's services, store and settings, and the server's services)"
.venv/bin/mypy common pos_client sync_server
echo "== pytest"
# Four workers on a 2-core machine: much of a worker's time is spent waiting (for the
# commands, servers and tills it started as processes, for Qt, for PostgreSQL, for sleeps
# and timeouts under test), and more workers fill it: three used 1.8 of the 2 cores, a
# fourth took the run from 5:47 to 4:59 (quiet machine) with less CPU in all, a fifth made
# it longer again (5:10). Templates and the PostgreSQL cluster are made once per run. A test
# file stays on one worker so its fixtures are shared. Files go to the workers in the order
# tests/conftest.py gives them (longest first: tests/durations.json), not re-sorted by their
# number of tests.
# scripts/suite-cpu.sh measures where a run's CPU goes (by kind of process and by file).
if [ -n "$collecting" ]; then wait "$collecting" || true; fi
exec .venv/bin/pytest -q -n "${STOCKPILOT_TEST_WORKERS:-4}" --dist loadfile --no-loadscope-reorder "$@"
