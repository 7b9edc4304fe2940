"""Measurement only: each Python process appends its CPU time to $CPUPROF_LOG at exit.

Put this folder on PYTHONPATH (scripts/suite-cpu.sh does) to see where a test run's CPU goes
by kind of process: pytest workers, commands, uvicorn servers, tills, helper scripts.
"""

import atexit
import json
import os
import resource
import sys
import time

_log = os.environ.get("CPUPROF_LOG")
_start = time.monotonic()


def _write() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    line = {
        "argv": list(getattr(sys, "orig_argv", sys.argv))[:6],
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "wall": round(time.monotonic() - _start, 3),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
    }
    try:
        with open(_log, "a") as f:  # type: ignore[arg-type]
            f.write(json.dumps(line) + "\n")
    except OSError:
        pass


if _log:
    # Processes ended by a signal (SIGKILL, or SIGTERM with no handler) write nothing: their
    # CPU shows only in their parent's reaped-children total (the per-file plugin counts it).
    atexit.register(_write)
