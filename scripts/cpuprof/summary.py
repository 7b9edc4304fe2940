"""Sum a measured run's CPU by kind of process and by test file (scripts/suite-cpu.sh)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def kind(argv: list[str]) -> str:
    text = " ".join(argv)
    # A console script runs as "python /path/to/script args": look past the interpreter.
    rest = argv[1:]
    if rest and Path(rest[0]).name in ("stockpilot-server", "stockpilot-till", "pytest", "uvicorn"):
        argv, rest = rest, rest[1:]
    prog = Path(argv[0]).name if argv else ""
    if "exec(eval(sys.stdin" in text:
        return "pytest worker"
    if prog == "pytest" or rest[:2] == ["-m", "pytest"]:
        return "pytest main"
    if prog == "uvicorn" or ("-m" in rest and "uvicorn" in rest):
        return "uvicorn server"
    if "multiprocessing" in text:
        return "multiprocessing child (uvicorn workers, ...)"
    if prog == "stockpilot-server" or rest[:2] == ["-m", "sync_server.cli"]:
        rest = rest[2:] if rest[:1] == ["-m"] else rest
        sub = next((a for a in rest if not a.startswith("-")), "(none)")
        return "server serve/worker" if sub in ("serve", "worker") else f"server command {sub}"
    if prog == "stockpilot-till" or "pos_client" in text:
        return "till"
    if "-c" in rest[:2]:
        return "python -c " + text.split("-c", 1)[1][:40].replace("\n", " ")
    return "script " + " ".join(Path(a).name for a in argv[:3])


def main(cpu_log: str, file_log: str | None = None, top: int = 40) -> None:
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    commands: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for line in Path(cpu_log).read_text().splitlines():
        row = json.loads(line)
        k = kind(row["argv"])
        group = "server commands (all)" if k.startswith("server command") else k
        by_kind[group][0] += row["cpu"]
        by_kind[group][1] += row["wall"]
        by_kind[group][2] += 1
        if k.startswith("server command"):
            commands[k][0] += row["cpu"]
            commands[k][1] += 1
    total = sum(v[0] for v in by_kind.values())
    print(f"{'kind':55} {'procs':>6} {'cpu s':>8} {'cpu/proc':>8}")
    for k, (cpu, _wall, n) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        print(f"{k[:55]:55} {n:6d} {cpu:8.1f} {cpu / n:8.2f}")
    print(f"{'total (processes that exited normally)':55} {'':6} {total:8.1f}")
    print()
    for k, (cpu, n) in sorted(commands.items(), key=lambda kv: -kv[1][0])[:15]:
        print(f"  {k[:53]:53} {int(n):6d} {cpu:8.1f} {cpu / n:8.2f}")
    if file_log and Path(file_log).exists():
        merged: dict[str, dict] = {}
        for line in Path(file_log).read_text().splitlines():
            r = json.loads(line)
            m = merged.setdefault(r["file"], {**r, "cpu": 0, "children": 0, "wall": 0, "tests": 0})
            for key in ("cpu", "children", "wall", "tests"):
                m[key] += r[key]
        rows = list(merged.values())
        print()
        print(f"{'file':60} {'tests':>5} {'cpu':>7} {'kids':>7} {'wall':>7}")
        for r in sorted(rows, key=lambda r: -(r["cpu"] + r["children"]))[:top]:
            print(
                f"{r['file'][-60:]:60} {r['tests']:5d} {r['cpu']:7.1f} {r['children']:7.1f} "
                f"{r['wall']:7.1f}"
            )
        print(
            f"{'all files':60} {sum(r['tests'] for r in rows):5d} "
            f"{sum(r['cpu'] for r in rows):7.1f} {sum(r['children'] for r in rows):7.1f} "
            f"{sum(r['wall'] for r in rows):7.1f}"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
