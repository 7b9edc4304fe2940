#!/usr/bin/env bash
# Run every benchmark in bench/ and print its figures beside the budgets in DESIGN.md.
# Pass module names to run some: bash scripts/bench.sh bench_search bench_till
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/venv.sh
export QT_QPA_PLATFORM=offscreen
modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  for f in bench/bench_*.py; do modules+=("$(basename "$f" .py)"); done
fi
# A benchmark over its budget exits non-zero; keep going so every figure gets printed.
failed=()
for m in "${modules[@]}"; do
  echo "=================== $m"
  .venv/bin/python -m "bench.$m" || failed+=("$m")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "over budget or failed: ${failed[*]}"
  exit 1
fi
