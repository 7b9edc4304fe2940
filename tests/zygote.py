"""Start the server's processes in tests by fork from a process that has imported them once.

A `stockpilot-server` process spends ~0.6 s of its ~0.7 s importing (SQLAlchemy, the models,
the settings, FastAPI and the routes) before its command does anything; the suite starts over a
hundred of them. Like multiprocessing's forkserver, each test worker starts one small process
(`python -m tests.zygote SOCKET`, lazily, stopped when the worker exits) that imports what the
server's commands and the server need - imports only: no engine, app, thread or connection - and
then, for each request, forks a child that becomes the command:

- the child takes the caller's environment (os.environ cleared and replaced, as exec would),
  working directory, stdin/stdout/stderr (file descriptors passed over a Unix socket), argv
  (argv[0] the program's path, as the console script sets it), a session of its own if asked,
  the signal dispositions a fresh interpreter has, and closes every other descriptor;
- it runs the entry point the console script runs (read from the installed entry points) and
  ends the way the interpreter ends: non-daemon threads joined, atexit run, output flushed,
  SystemExit's code as the interpreter maps it, an uncaught exception printed with its
  traceback and exit status 1;
- the zygote reaps it and sends its wait status (and CPU time) back over that request's socket.

On the test side `Popen` has what the tests use of subprocess.Popen (pid, poll, wait,
returncode, send_signal/terminate/kill; os.kill/os.killpg on its pid work: it is a real
process) and `run` what they use of subprocess.run(capture_output=True, text=True).

A command whose environment asks for a different interpreter set-up (PYTHON* variables,
locale, LD_*) than the zygote was started with is exec'd for real instead, and so is every
command when STOCKPILOT_TEST_ZYGOTE=0. The console scripts themselves are still exec'd for real
by the installers' tests (tests/clitools.py routes only the other tests here).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import locale
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "stockpilot-server"
SERVER = str(Path(sys.executable).parent / SCRIPT)
MODULE_ARGV = [sys.executable, "-m", "sync_server.cli"]
UVICORN_ARGV = [sys.executable, "-m", "uvicorn"]
# The modules `python -m NAME` may run here, and the function their __main__ calls.
MODULES = {
    "sync_server.cli": "sync_server.cli:main",
    "uvicorn": "uvicorn.main:main",
    "tests.zygote_probe": "tests.zygote_probe:main",  # the zygote's own test
}

# What a server command or the server imports; the zygote imports these and nothing that makes
# an engine, an app or a thread. Not sync_server.asgi: it reads the settings (the environment)
# when imported, so it is imported by the child, with the child's environment.
PRELOAD = (
    "sync_server.cli",
    "sync_server.cli_support",
    "tests.zygote_probe",
    "sync_server.config",
    "sync_server.db",
    "sync_server.models",
    "sync_server.org.models",
    "sync_server.auth",
    "sync_server.audit.checkpoints",
    "sync_server.audit.keys",
    "sync_server.audit.service",
    "sync_server.demo",
    "sync_server.domains",
    "sync_server.logs",
    "sync_server.migrations.heads",
    "sync_server.migrations.runner",
    "sync_server.operator_api",
    "sync_server.provisioning.service",
    "sync_server.main",
    "sync_server.api",
    "sync_server.integrity.watch",
    "sync_server.notifications.dispatcher",
    "sync_server.reports.keeper",
    "sync_server.sync.keeper",
    "common.errors",
    "common.schemas.auth",
    "logging.config",
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "pydantic",
    "fastapi",
    "uvicorn",
    "uvicorn.main",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.lifespan.on",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.loops.auto",
    "uvicorn.supervisors",
)

# And every domain's modules of these kinds (sync_server/domains.py finds them): a routes module
# builds its router's routes when imported, the bulk of a server's start-up after the imports.
DOMAIN_PARTS = ("models", "routes", "receivers", "cli")

# The environment a child may not change (the interpreter or the C library read it at start);
# a command asking for other values is exec'd for real. PYTHONPATH is checked apart.
_START_PREFIXES = ("PYTHON", "LD_", "LC_", "LANG", "MALLOC", "GCONV")
_CHILD_SETS = ("PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONIOENCODING")


# --------------------------------------------------------------------------- the zygote


def _preload() -> None:
    import importlib

    from sync_server.domains import domain_modules

    for name in PRELOAD:
        importlib.import_module(name)
    for part in DOMAIN_PARTS:
        domain_modules(part)
    # The ORM's mappers, configured as the first query would configure them (~0.1 s of each
    # command's CPU): in-memory class set-up only, no engine or connection.
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    if threading.active_count() != 1:  # fork would copy a thread's locks, not the thread
        raise RuntimeError(f"an import started a thread: {threading.enumerate()}")


def _entry_point(name: str):
    from importlib.metadata import entry_points

    (found,) = entry_points(group="console_scripts", name=name)
    return found.load()


def serve(path: str) -> None:
    """The zygote's loop: fork a child per request, report each child's end."""
    _preload()
    entries = {SCRIPT: _entry_point(SCRIPT)}
    for module, target in MODULES.items():
        where, _, name = target.partition(":")
        entries[module] = getattr(sys.modules[where], name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select through wake_w
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Ctrl-C at the terminal is for pytest; the zygote ends when its worker closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    waiting: dict[int, socket.socket] = {}
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
    while True:
        for key, _ in selector.select():
            if key.data == "accept":
                conn, _ = listener.accept()
                try:
                    pid = _fork_one(conn, entries)
                except Exception as exc:  # a bad request ends that request, not the zygote
                    with contextlib.suppress(OSError):
                        conn.send(json.dumps({"error": repr(exc)}).encode())
                    conn.close()
                    continue
                if pid is not None:
                    waiting[pid] = conn
            elif key.data == "child":
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
            elif not os.read(sys.stdin.fileno(), 512):  # the test worker has gone
                return
        _reap(waiting)


def _reap(waiting: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            cpu = usage.ru_utime + usage.ru_stime
            with contextlib.suppress(OSError):
                conn.send(json.dumps({"status": status, "cpu": cpu}).encode())
            conn.close()


def _fork_one(conn: socket.socket, entries: dict) -> int | None:
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    if not message:
        for fd in fds:
            os.close(fd)
        conn.close()
        return None
    request = json.loads(message)
    main = entries[request["module"] or SCRIPT]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _become(request, fds)
            code = _run(main)
        except BaseException:  # noqa: BLE001 - set-up failed: say why, as a crash would
            with contextlib.suppress(BaseException):
                sys.excepthook(*sys.exc_info())
        finally:
            _finish(code)
    for fd in fds:
        os.close(fd)
    conn.send(json.dumps({"pid": pid}).encode())
    return pid


def _become(request: dict, fds: list[int]) -> None:
    """In the child: take the caller's process set-up, as exec would give it."""
    signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    # What a fresh interpreter sets: Ctrl-C raises KeyboardInterrupt; SIGPIPE and SIGXFSZ
    # are ignored (a write then fails with an error instead).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if request["new_session"]:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    # The listening socket, the request's socket, the wake-up pipe, the passed descriptors:
    # none is the command's (close_fds, as subprocess does).
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # TZ is read by the C library when set, not when the interpreter starts
    os.chdir(request["cwd"])
    argv, module = request["argv"], request["module"]
    import importlib.util
    import random
    import types

    main_module = types.ModuleType("__main__")
    if module:  # `python -m NAME args`: argv[0] is the module's file, as runpy sets it
        spec = importlib.util.find_spec(f"{module}.__main__" if module == "uvicorn" else module)
        assert spec is not None and spec.origin is not None
        sys.argv = [spec.origin, *argv[3:]]
        main_module.__spec__, main_module.__file__ = spec, spec.origin
    else:  # a console script: `python SCRIPT args`
        sys.argv = list(argv)
        main_module.__spec__, main_module.__file__ = None, argv[0]
    sys.orig_argv = list(argv) if module else [sys.executable, *argv]
    sys.modules["__main__"] = main_module
    _std_streams(request["env"])
    random.seed()  # (the random module re-seeds after fork as well; a fresh process would)


def _std_streams(env: Mapping[str, str]) -> None:
    """New sys.stdin/stdout/stderr on fds 0-2, buffered as the interpreter would buffer them."""
    encoding, errors = sys.__stdout__.encoding, sys.__stdout__.errors
    if env.get("PYTHONIOENCODING"):
        given, _, given_errors = env["PYTHONIOENCODING"].partition(":")
        encoding, errors = given or encoding, given_errors or errors
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    streams = []
    for fd in (0, 1, 2):
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        # As the interpreter opens them: stdin always buffered, stdout and stderr unless
        # PYTHONUNBUFFERED (then every write goes through); line buffering on a terminal, and
        # for stderr always, when buffered.
        if fd == 0:
            buffer: io.RawIOBase | io.BufferedIOBase = io.BufferedReader(raw)
        elif unbuffered:
            buffer = raw
        else:
            buffer = io.BufferedWriter(raw)
        stream = io.TextIOWrapper(
            buffer,  # type: ignore[arg-type]
            encoding=encoding,
            errors="backslashreplace" if fd == 2 else errors,
            newline="\n",
            line_buffering=not unbuffered and (fd == 2 or raw.isatty()),
            write_through=unbuffered,
        )
        streams.append(stream)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams


def _run(main) -> int:
    """Run the console script's body; return the exit status the interpreter would give."""
    try:
        sys.argv[0] = sys.argv[0].removesuffix(".exe")
        sys.exit(main())
    except SystemExit as done:
        code = done.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        _finish(0, interrupted=True)
    except BaseException:  # noqa: BLE001 - an uncaught exception, as the interpreter prints it
        sys.excepthook(*sys.exc_info())
        return 1
    return 0  # not reached: sys.exit raised


def _finish(code: int, *, interrupted: bool = False) -> None:
    """End the child as the interpreter ends: threads joined, atexit run, output flushed."""
    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]  # what Py_Finalize waits for
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the interpreter exits 120 when it cannot flush
            code = 120
    if interrupted:  # an uncaught Ctrl-C ends the interpreter by SIGINT itself
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


# --------------------------------------------------------------------------- the test side

_lock = threading.Lock()
_zygote: dict[str, object] = {}
# The environment the zygote starts with: the test process's as it was when it loaded this
# module (a test's monkeypatched variables are its own, not the zygote's).
_START_ENV = dict(os.environ)
children_cpu = 0.0  # CPU seconds of the children reaped so far (the zygote reaps them)


def enabled() -> bool:
    return os.environ.get("STOCKPILOT_TEST_ZYGOTE", "1") != "0"


def _socket_path() -> str:
    """Start this process's zygote if it has none running; return its socket's path."""
    with _lock:
        process = _zygote.get("process")
        if (
            isinstance(process, subprocess.Popen)
            and _zygote.get("owner") == os.getpid()
            and process.poll() is None
        ):
            return str(_zygote["path"])
        folder = tempfile.mkdtemp(prefix="stockpilot-zygote-")
        path = os.path.join(folder, "socket")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote", path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=_START_ENV,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        process.stdout.close()
        if line != b"ready\n":
            process.wait(timeout=10)
            raise RuntimeError(f"the zygote did not start (exit {process.returncode})")
        _zygote.update(process=process, path=path, owner=os.getpid(), folder=folder)
        if not _zygote.get("atexit"):
            atexit.register(stop)
            _zygote["atexit"] = True
        return path


def stop() -> None:
    """Stop this process's zygote (its children run on: each test stops what it started)."""
    with _lock:
        process = _zygote.pop("process", None)
        if isinstance(process, subprocess.Popen) and _zygote.get("owner") == os.getpid():
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            with contextlib.suppress(OSError):
                os.unlink(str(_zygote["path"]))
                os.rmdir(str(_zygote["folder"]))


def _fits(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """Say whether the zygote can start this command the way exec would."""
    if not enabled():
        return False
    if _module(argv) is None and argv[:1] != [SERVER]:
        return False
    mine = _START_ENV
    for name in set(env) | set(mine):
        changed = env.get(name) != mine.get(name)
        if changed and name.startswith(_START_PREFIXES) and name not in _CHILD_SETS:
            return False
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    known = {os.path.realpath(p or ".") for p in sys.path} | {str(ROOT)}
    return all(os.path.realpath(p) in known for p in paths)


def _module(argv: Sequence[str]) -> str | None:
    """The module of a `python -m NAME` command the zygote can run, else None."""
    if list(argv[:2]) == [sys.executable, "-m"] and len(argv) > 2 and argv[2] in MODULES:
        return argv[2]
    return None


def _fd(value, default: int | None, opened: list) -> int:
    if value is None:
        if default is None:
            raise ValueError("no descriptor")
        return default
    if value == subprocess.DEVNULL:
        null = open(os.devnull, "rb+")  # noqa: SIM115 - closed once passed
        opened.append(null)
        return null.fileno()
    return value if isinstance(value, int) else value.fileno()


class Popen:
    """A server command forked by the zygote, with subprocess.Popen's face (as tests use it)."""

    stdin = stdout = stderr = None

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        stdin=None,
        stdout=None,
        stderr=None,
        start_new_session: bool = False,
    ) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        if cwd is not None and not os.path.isdir(cwd):  # as subprocess says it, in the caller
            raise FileNotFoundError(2, "No such file or directory", os.fspath(cwd))
        self._lock = threading.Lock()
        opened: list = []
        try:
            fds = [_fd(stdin, 0, opened), _fd(stdout, 1, opened)]
            fds.append(fds[1] if stderr == subprocess.STDOUT else _fd(stderr, 2, opened))
            request = {
                "argv": [str(a) for a in args],
                "module": _module([str(a) for a in args]),
                "env": dict(os.environ if env is None else env),
                "cwd": os.fspath(cwd) if cwd is not None else os.getcwd(),
                "new_session": start_new_session,
            }
            self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self._conn.connect(_socket_path())
            socket.send_fds(self._conn, [json.dumps(request).encode()], fds)
        finally:
            for f in opened:
                f.close()
        answer = json.loads(self._conn.recv(1 << 16) or b'{"error": "the zygote closed"}')
        if "pid" not in answer:
            self._conn.close()
            raise OSError(f"the zygote could not start {self.args}: {answer['error']}")
        self.pid: int = answer["pid"]

    def _collect(self, timeout: float | None) -> bool:
        global children_cpu
        with self._lock:
            if self.returncode is not None:
                return True
            ready = selectors.DefaultSelector()
            ready.register(self._conn, selectors.EVENT_READ)
            try:
                if not ready.select(timeout):
                    return False
            finally:
                ready.close()
            message = self._conn.recv(1 << 16)
            self._conn.close()
            if not message:  # the zygote went away before the child ended
                raise RuntimeError(f"the zygote stopped while {self.args} ran")
            answer = json.loads(message)
            children_cpu += answer["cpu"]
            self.returncode = os.waitstatus_to_exitcode(answer["status"])
            return True

    def poll(self) -> int | None:
        self._collect(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._collect(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # never signal a pid the zygote has reaped (and may reuse)
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __enter__(self) -> Popen:
        return self

    def __exit__(self, *_: object) -> None:
        self.wait()


def popen(args: Sequence[str], **kwargs) -> Popen | subprocess.Popen:
    """Start a server command through the zygote (a real exec when it does not fit)."""
    env = kwargs.get("env")
    if _fits(list(map(str, args)), os.environ if env is None else env):
        return Popen(args, **kwargs)
    return subprocess.Popen(args, **kwargs)


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float | None = None,
    stdin=subprocess.DEVNULL,
    capture_output: bool = True,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """subprocess.run(args, capture_output=True, text=True, ...) for a server command."""
    assert capture_output and text, "only captured text output is offered"
    if not _fits(list(map(str, args)), os.environ if env is None else env):
        return subprocess.run(
            args,
            env=env,
            cwd=cwd,
            timeout=timeout,
            stdin=stdin,
            capture_output=True,
            text=True,
        )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = Popen(args, env=env, cwd=cwd, stdin=stdin, stdout=out, stderr=err)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        answers = []
        for f in (out, err):
            f.seek(0)
            data = f.read().decode(locale.getpreferredencoding(False))
            answers.append(data.replace("\r\n", "\n").replace("\r", "\n"))
    return subprocess.CompletedProcess(list(args), process.returncode, *answers)


if __name__ == "__main__":
    serve(sys.argv[1])
