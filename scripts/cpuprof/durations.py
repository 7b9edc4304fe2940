"""Write tests/durations.json from measured runs: each test file's wall time, in seconds.

Usage: .venv/bin/python scripts/cpuprof/durations.py OUTDIR/files.jsonl [more runs...]
(OUTDIR from `bash scripts/suite-cpu.sh OUTDIR` with four workers, as scripts/test.sh runs).
tests/conftest.py sends the files to the workers longest first, so that no long file starts
near the end while the other workers have finished; the figures of several runs are averaged.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    walls: dict[str, list[float]] = defaultdict(list)
    for path in paths:
        for line in Path(path).read_text().splitlines():
            row = json.loads(line)
            walls[row["file"]].append(row["wall"])
    figures = {name: round(sum(w) / len(w), 1) for name, w in sorted(walls.items())}
    target = Path(__file__).resolve().parents[2] / "tests" / "durations.json"
    target.write_text(json.dumps(figures, indent=0) + "\n")
    print(f"{len(figures)} files, {sum(figures.values()):.0f} s in all: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
