"""A command for testing tests/zygote.py: `python -m tests.zygote_probe ACTION [ARG]`.

Run both as a real process and forked by the zygote, it must answer the same: that is the
zygote's test (tests/common/test_zygote.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time


def _state() -> dict[str, object]:
    handlers = {}
    for name in ("SIGINT", "SIGTERM", "SIGPIPE", "SIGXFSZ", "SIGCHLD", "SIGHUP", "SIGUSR1"):
        handler = signal.getsignal(getattr(signal, name))
        handlers[name] = getattr(handler, "__name__", str(handler))
    return {
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "signals": handlers,
        "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "session": os.getsid(0) == os.getpid(),
        "group": os.getpgid(0) == os.getpid(),
        "stdin_tty": sys.stdin.isatty(),
        "streams": [
            [s.encoding, s.errors, s.line_buffering, s.write_through, type(s.buffer).__name__]
            for s in (sys.stdin, sys.stdout, sys.stderr)
        ],
        "main": [getattr(sys.modules["__main__"], "__spec__", None) is not None],
        "tz": time.strftime("%z", time.localtime(0)),
    }


def main() -> int:
    action, *rest = sys.argv[1:] or ["state"]
    if action == "state":
        # The descriptor that listed /proc/self/fd is one more, closed by then: drop the last.
        state = _state()
        state["fds"] = state["fds"][:-1]  # type: ignore[index]
        print(json.dumps(state))
    elif action == "env":
        print(json.dumps({name: os.environ.get(name) for name in rest}))
    elif action == "exit":
        return int(rest[0])
    elif action == "exit-message":
        sys.exit(rest[0])
    elif action == "stdin":
        print(json.dumps(sys.stdin.read()))
    elif action == "crash":
        print("before the crash", flush=True)
        raise RuntimeError("the probe crashed on purpose")
    elif action == "random":
        print(random.random())
    elif action == "atexit":
        import atexit

        atexit.register(lambda: print("atexit ran", flush=True))
        print("buffered, not flushed", end="")
    elif action == "wait":
        print("waiting", flush=True)
        time.sleep(120)
    elif action == "group":
        # A grandchild in the same process group: os.killpg on the command ends both.
        import subprocess

        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(child.pid, flush=True)
        time.sleep(120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
