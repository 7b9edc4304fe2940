"""Run StockPilot's installed commands as separate processes, the way a person at a shell does."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import runwide, zygote

BIN = Path(sys.executable).parent
SERVER = str(BIN / "stockpilot-server")
TILL = str(BIN / "stockpilot-till")

# The installers' tests run the installed console scripts as a person's shell does: a real
# exec every time. Elsewhere a server command is forked from the test worker's zygote
# (tests/zygote.py: the same process set-up and entry point, without paying its imports
# again); the till is always exec'd (Qt in a forked child is unsafe, and it starts cheaply).
REAL_EXEC_UNDER = ("tests/installers/",)


def _forked(program: str) -> bool:
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return program == SERVER and not current.startswith(REAL_EXEC_UNDER)


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    """Return an environment with only this data dir (no test run's database leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPILOT_")}
    env.update(STOCKPILOT_DATA_DIR=str(data_dir), QT_QPA_PLATFORM="offscreen", **extra)
    return env


def run(
    program: str,
    *args: str,
    data_dir: Path,
    timeout: float = 120,
    real_exec: bool = False,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end with no terminal (stdin is /dev/null); `real_exec` execs the
    program even where a server command would be forked."""
    if _forked(program) and not real_exec:
        return zygote.run([program, *args], env=env_for(data_dir, **env), timeout=timeout)
    return subprocess.run(
        [program, *args],
        env=env_for(data_dir, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a command succeeded without a traceback; return its stdout."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], *, code: int, says: str, prog: str) -> str:
    """Assert a one-line refusal on stderr with this exit code and no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{prog}: "), lines[0]
    assert says.lower() in lines[0].lower(), lines[0]
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Background:
    """A long-running command (server, worker, till) with its output in files, not pipes."""

    process: subprocess.Popen[bytes] | zygote.Popen
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for(self, check: Callable[[], bool], *, timeout: float = 90, what: str = "") -> None:
        """Wait until check() holds, failing early if the process died."""
        deadline = time.monotonic() + timeout
        while not check():
            assert self.process.poll() is None, (
                f"exited {self.process.returncode} before {what}: {self.stdout()} {self.stderr()}"
            )
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.stderr()}"
            time.sleep(0.2)


@contextmanager
def background(
    program: str, *args: str, data_dir: Path, logs: Path, **env: str
) -> Iterator[Background]:
    """Start a command, yield it, then stop it with SIGTERM (SIGKILL if it will not go)."""
    logs.mkdir(parents=True, exist_ok=True)
    name = Path(program).name
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as o, err.open("wb") as e:
        start = zygote.popen if _forked(program) else subprocess.Popen
        process = start(
            [program, *args],
            env=env_for(data_dir, **env),
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
        )
    try:
        yield Background(process, out, err)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def run_in_terminal(
    program: str, *args: str, data_dir: Path, answers: list[tuple[str, str]], timeout: float = 90
) -> tuple[int, str]:
    """Run a command on a pseudo-terminal, answering its prompts; return (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in a shell
        os.execve(program, [program, *args], env_for(data_dir))
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal: it has ended
                    break
                if not chunk:
                    break
                output += chunk
            if pending and pending[0][0].encode() in output.split(b"\n")[-1]:
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def copy_dir(source: Path, target: Path) -> Path:
    """Copy an initialised data dir (cheaper than hashing its passwords again)."""
    shutil.copytree(source, target)
    return target


@dataclass
class DemoShop:
    """A data dir made the documented way, by real processes: init, then the demo month.

    `init` and `demo` are those two commands' answers, for tests that check them; `copy()`
    gives a test its own data dir (database and key files) to change.
    """

    data_dir: Path
    init: subprocess.CompletedProcess[str]
    demo: subprocess.CompletedProcess[str]

    def copy(self, target: Path) -> Path:
        """Return a copy of the shop's data dir at target, after checking it was made."""
        ok(self.init)
        assert "Demo data loaded" in ok(self.demo)
        return copy_dir(self.data_dir, target)


# The demo shop's business and admin password (init's other options are its defaults, and
# --no-branch: the demo brings its own branches).
DEMO_SHOP_INIT = ("init", "--tenant", "Corner Shop", "--admin-password", "demo-password")


def _answer(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def _result(args: list[str], answer: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(
        args, answer["returncode"], stdout=answer["stdout"], stderr=answer["stderr"]
    )


def demo_shop(home: Path) -> DemoShop:
    """Make the demo shop in home (a folder of the run: tests/runwide.py) once; later callers
    (other test workers too) reuse it.

    `demo-data` lives a month of sales, shifts and documents (several seconds of CPU) after
    an `init` that hashes a password at its real cost: made once per test run, not per file.
    The answers file marks it made; the first worker builds it while another waits its turn.
    """
    data_dir, answers = home / "data", home / "answers.json"
    init_args = [SERVER, *DEMO_SHOP_INIT, "--no-branch"]
    demo_args = [SERVER, "demo-data"]
    with runwide.turn(home):
        if not answers.exists():
            if data_dir.exists():  # a build that did not finish
                shutil.rmtree(data_dir)
            # Real execs of the installed script: these two commands run as processes of their
            # own nowhere else outside the installers' tests.
            made = run(*init_args, data_dir=data_dir, real_exec=True)
            loaded = run(*demo_args, data_dir=data_dir, timeout=300, real_exec=True)
            answers.write_text(json.dumps([_answer(made), _answer(loaded)]))
        made_answer, loaded_answer = json.loads(answers.read_text())
    return DemoShop(data_dir, _result(init_args, made_answer), _result(demo_args, loaded_answer))


def run_here(
    main: Callable[[list[str]], int], *args: str, data_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a command's main() in this process, as run() would start it: same environment (only
    this data dir), stdin not a terminal, stdout and stderr captured, the exit code returned.

    For the many refusals of one command: a test of each command still runs it as a process
    of its own (a fresh process has loaded nothing; this one has every model already).
    """
    import contextlib
    import io

    saved_env, saved_stdin = dict(os.environ), sys.stdin
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env_for(data_dir, **env))
    sys.stdin = io.StringIO("")  # like /dev/null: not a terminal, nothing to read
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.stdin = saved_stdin
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(
        [Path(main.__module__).name, *args], code, out.getvalue(), err.getvalue()
    )
