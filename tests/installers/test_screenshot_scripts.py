"""The screenshot scripts render their screens and leave no temporary folder behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_script(name: str, tmp_path: Path) -> tuple[list[str], list[str]]:
    """Run a script with its own TMPDIR; return the pictures it wrote and what TMPDIR holds."""
    scratch, out = tmp_path / "tmp", tmp_path / "out"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / name), str(out)],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return sorted(p.name for p in out.glob("*.png")), sorted(p.name for p in scratch.iterdir())


@pytest.mark.timeout(420)
@pytest.mark.slow
def test_till_screenshots_leave_no_temporary_folder(tmp_path):
    pictures, left = _run_script("screenshots.sh", tmp_path)
    assert "05-sale-complete.png" in pictures and "07-z-report.png" in pictures
    assert left == []


@pytest.mark.timeout(420)
@pytest.mark.slow
def test_manager_screenshots_show_a_month_and_leave_no_temporary_folder(tmp_path):
    pictures, left = _run_script("manager-screenshots.sh", tmp_path)
    assert {"manager-dashboard.png", "manager-sales-journal.png"} <= set(pictures)
    assert left == []
