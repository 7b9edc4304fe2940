"""The tests' zygote (tests/zygote.py): a forked command is set up as an exec'd one would be.

Each check runs the probe command (tests/zygote_probe.py) both ways - forked by the zygote and
exec'd for real - and compares what it saw, or checks what only a process can show (exit
codes, signals, a crash's traceback, output left in a buffer at exit).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import zygote
from tests.clitools import SERVER, run

PROBE = [sys.executable, "-m", "tests.zygote_probe"]
ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPILOT_")}
    return {**env, **extra}


def _both(*args: str, **kwargs) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    forked = zygote.run([*PROBE, *args], **kwargs)
    real = subprocess.run(
        [*PROBE, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs
    )
    return forked, real


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_probe_is_forked_by_the_zygote_not_exec_d():
    assert zygote.enabled(), "STOCKPILOT_TEST_ZYGOTE=0 turns the zygote off: nothing to test"
    first = zygote.popen([*PROBE, "wait"], env=_env(), stdout=subprocess.DEVNULL)
    second = zygote.popen([*PROBE, "wait"], env=_env(), stdout=subprocess.DEVNULL)
    try:
        assert isinstance(first, zygote.Popen) and isinstance(second, zygote.Popen)
        # Both are children of the one zygote, which is this process's child.
        assert _parent(first.pid) == _parent(second.pid) != os.getpid()
        assert _parent(_parent(first.pid)) == os.getpid()
    finally:
        for process in (first, second):
            process.kill()
            assert process.wait(timeout=10) == -signal.SIGKILL


def test_a_forked_command_starts_as_an_exec_d_one_does(tmp_path):
    env = _env(TZ="Asia/Kolkata", PYTHONIOENCODING="utf-8:strict")
    forked, real = _both("state", env=env, cwd=tmp_path, timeout=60)
    assert forked.returncode == real.returncode == 0, (forked.stderr, real.stderr)
    seen, expected = json.loads(forked.stdout), json.loads(real.stdout)
    assert seen == expected
    # What that means: argv as `python -m` sets it, the caller's cwd, only fds 0-2 open,
    # a fresh interpreter's signal handlers, nothing blocked, stdin not a terminal, and the
    # caller's TZ (the zygote's own is the test worker's).
    assert seen["argv"] == [str(ROOT / "tests" / "zygote_probe.py"), "state"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["fds"] == [0, 1, 2]
    assert seen["signals"]["SIGINT"] == "default_int_handler"
    assert seen["blocked"] == [] and seen["stdin_tty"] is False
    assert seen["tz"] == "+0530"
    assert seen["session"] is False


def test_a_new_session_when_asked(tmp_path):
    out = tmp_path / "out"
    with out.open("wb") as sink:
        process = zygote.popen([*PROBE, "state"], env=_env(), stdout=sink, start_new_session=True)
    assert process.wait(timeout=60) == 0
    state = json.loads(out.read_text())
    assert state["session"] is True and state["group"] is True


@pytest.mark.parametrize(
    ("args", "code"), [(["exit", "0"], 0), (["exit", "3"], 3), (["exit", "255"], 255)]
)
def test_exit_codes_are_the_command_s(args, code):
    forked, real = _both(*args, env=_env(), timeout=60)
    assert forked.returncode == real.returncode == code


def test_sys_exit_with_a_message_prints_it_and_exits_1():
    forked, real = _both("exit-message", "no such shop", env=_env(), timeout=60)
    assert forked.returncode == real.returncode == 1
    assert forked.stderr == real.stderr == "no such shop\n"


def test_a_crash_prints_a_traceback_and_exits_1():
    forked, real = _both("crash", env=_env(), timeout=60)
    assert forked.returncode == real.returncode == 1
    assert forked.stdout == real.stdout == "before the crash\n"
    for result in (forked, real):
        assert result.stderr.startswith("Traceback (most recent call last):"), result.stderr
        assert result.stderr.endswith("RuntimeError: the probe crashed on purpose\n")


def test_each_child_has_its_own_environment_and_none_of_the_zygote_s():
    names = ("PROBE_ONE", "PROBE_TWO", "PYTEST_XDIST_WORKER", "STOCKPILOT_DATA_DIR")
    one = zygote.run([*PROBE, "env", *names], env={**_env(), "PROBE_ONE": "1"}, timeout=60)
    bare = {k: v for k, v in _env().items() if k != "PYTEST_XDIST_WORKER"}
    two = zygote.run([*PROBE, "env", *names], env={**bare, "PROBE_TWO": "2"}, timeout=60)
    assert json.loads(one.stdout) == {
        "PROBE_ONE": "1",
        "PROBE_TWO": None,
        "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER"),
        "STOCKPILOT_DATA_DIR": None,
    }
    assert json.loads(two.stdout) == dict.fromkeys(names) | {"PROBE_TWO": "2"}


def test_stdin_is_the_callers(tmp_path):
    forked, real = _both("stdin", env=_env(), timeout=60)
    assert json.loads(forked.stdout) == json.loads(real.stdout) == ""  # /dev/null: closed
    given = tmp_path / "in"
    given.write_text("two\nlines\n")
    with given.open("rb") as source:
        fed = zygote.run([*PROBE, "stdin"], env=_env(), stdin=source, timeout=60)
    assert json.loads(fed.stdout) == "two\nlines\n"


def test_atexit_runs_and_buffered_output_is_flushed():
    forked, real = _both("atexit", env=_env(), timeout=60)
    assert forked.returncode == real.returncode == 0
    assert forked.stdout == real.stdout == "buffered, not flushed" + "atexit ran\n"


def test_children_do_not_share_the_random_state():
    draws = {zygote.run([*PROBE, "random"], env=_env(), timeout=60).stdout for _ in range(3)}
    assert len(draws) == 3


def _started(process, out: Path) -> str:
    deadline = time.monotonic() + 60
    while not out.read_text():
        assert process.poll() is None and time.monotonic() < deadline, out.read_text()
        time.sleep(0.05)
    return out.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_signals_reach_the_command_and_its_status_comes_back(tmp_path, sig):
    out = tmp_path / "out"
    with out.open("wb") as sink:
        process = zygote.popen([*PROBE, "wait"], env=_env(), stdout=sink, stderr=subprocess.DEVNULL)
    assert _started(process, out) == "waiting\n"
    assert process.poll() is None and process.returncode is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.1)
    process.send_signal(sig)
    # An uncaught Ctrl-C ends the interpreter by SIGINT too (after its traceback).
    assert process.wait(timeout=30) == -sig == process.returncode
    process.kill()  # after the end: a no-op, never a signal to a reused pid


def test_killpg_ends_the_command_s_whole_group(tmp_path):
    out = tmp_path / "out"
    with out.open("wb") as sink:
        process = zygote.popen([*PROBE, "group"], env=_env(), stdout=sink, start_new_session=True)
    grandchild = int(_started(process, out))
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == -signal.SIGTERM
    deadline = time.monotonic() + 30
    while Path(f"/proc/{grandchild}").exists() and "Z" not in _state_of(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived its group's SIGTERM"
        time.sleep(0.05)


def _state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_the_server_command_answers_as_the_real_script(tmp_path):
    env = _env(STOCKPILOT_DATA_DIR=str(tmp_path / "data"))
    for args in (["--help"], ["bogus"], ["audit", "verify"]):
        forked = zygote.run([SERVER, *args], env=env, timeout=60)
        real = subprocess.run(
            [SERVER, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            real.returncode,
            real.stdout,
            real.stderr,
        )
    assert forked.stderr.startswith("stockpilot-server: ") and forked.returncode == 1


def test_an_environment_for_another_interpreter_set_up_is_exec_d():
    process = zygote.popen([*PROBE, "exit", "0"], env=_env(PYTHONHASHSEED="7"))
    assert isinstance(process, subprocess.Popen)
    assert process.wait(timeout=60) == 0


def test_orders_expire_forked_and_exec_d_say_the_same(demo_shop, tmp_path):
    """`orders expire` runs as a process only here and in the CLI tests (forked there): once
    as a real exec of the installed script, compared with the forked one."""
    answers = []
    for real in (True, False):
        data = demo_shop.copy(tmp_path / f"shop-{real}")
        answers.append(run(SERVER, "orders", "expire", data_dir=data, real_exec=real))
    assert answers[0].returncode == answers[1].returncode == 0, answers
    assert answers[0].stdout == answers[1].stdout and "Expired" in answers[0].stdout
    assert answers[0].stderr == answers[1].stderr == ""


def test_a_missing_working_directory_is_the_callers_error(tmp_path):
    for start in (zygote.Popen, subprocess.Popen):
        with pytest.raises(FileNotFoundError):
            start([*PROBE, "exit", "0"], env=_env(), cwd=tmp_path / "missing")


def test_the_installers_tests_exec_the_installed_script(monkeypatch):
    from tests import clitools

    assert clitools._forked(SERVER) and not clitools._forked(clitools.TILL)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/installers/test_wheel.py::test_x (call)")
    assert not clitools._forked(SERVER)
