"""A private Xvfb for tests that need real X key events (scanners typed by xdotool)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# xdotool plays the scanner and Xvfb stamps its keys: if a busy machine deschedules either
# mid-burst, the keys carry a person's gaps and the filter rightly calls them typing. Run
# both ahead of ordinary work when we may (root, as in CI containers).
BOOST = ["nice", "-n", "-10"] if os.geteuid() == 0 and shutil.which("nice") else []


def require_tools() -> None:
    """Skip on a developer machine without Xvfb/xdotool; fail under CI, which must run them."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed (apt-get install -y xvfb xdotool)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the Xvfb tests: {message}")
    pytest.skip(message)


def run_xvfb(tmp_path: Path, *, screen: str) -> Iterator[str]:
    """Start Xvfb on a display number it picks itself; yield ":N" and stop it afterwards."""
    require_tools()
    read_fd, write_fd = os.pipe()
    # -displayfd makes Xvfb choose a free display and write its number once it accepts
    # connections: no guessing, no race with another run on this machine.
    command = ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", screen]
    with (tmp_path / "xvfb.log").open("wb") as log:
        server = subprocess.Popen(
            [*BOOST, *command], pass_fds=(write_fd,), stdout=log, stderr=subprocess.STDOUT
        )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 15)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            pytest.fail(f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text()}")
        yield f":{number}"
    finally:
        os.close(read_fd)
        stop(server)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a process to end; kill it if it will not."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
