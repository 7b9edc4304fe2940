#!/usr/bin/env bash
# Measure where a test run's CPU goes: by kind of process (workers, commands, servers, tills)
# and by test file. Usage: bash scripts/suite-cpu.sh OUTDIR [pytest args, e.g. tests/server]
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "$1")"; shift
mkdir -p "$out"
rm -f "$out/cpu.jsonl" "$out/files.jsonl"
export QT_QPA_PLATFORM=offscreen
export CPUPROF_LOG="$out/cpu.jsonl" CPUPROF_FILE_LOG="$out/files.jsonl"
export PYTHONPATH="$PWD/scripts/cpuprof${PYTHONPATH:+:$PYTHONPATH}"
unset PYTHONDONTWRITEBYTECODE  # as scripts/test.sh: bytecode kept beside the modules
uptime > "$out/uptime.txt"
start=$(date +%s.%N)
set +e
/usr/bin/time -f "%e s wall, %U s user, %S s sys (pytest and reaped children)" -o "$out/time.txt" \
    .venv/bin/pytest -q -n "${STOCKPILOT_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder \
    -p fileprof "$@" > "$out/pytest.txt" 2>&1
rc=$?
set -e
uptime >> "$out/uptime.txt"
tail -3 "$out/pytest.txt"
cat "$out/time.txt" "$out/uptime.txt"
CPUPROF_LOG= .venv/bin/python scripts/cpuprof/summary.py "$out/cpu.jsonl" "$out/files.jsonl" | tee "$out/summary.txt"
exit $rc
