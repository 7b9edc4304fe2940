"""The developer set-up (`scripts/venv.sh`): `pip install -e .` prints no setuptools warning box."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.installers.test_wheel import _copy_sources, _run


@pytest.mark.timeout(600)
@pytest.mark.slow
def test_editable_install_prints_no_warning_box_and_imports_from_the_checkout(tmp_path):
    src = tmp_path / "src"
    _copy_sources(src)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    # The same pip call as scripts/venv.sh, without the dependencies (the box comes from the build).
    install = _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "-e",
            str(src),
        ]
    )
    output = install.stdout + install.stderr
    assert "Editable install" not in output, output
    assert "*****" not in output, output
    where = subprocess.run(
        [python, "-c", "import common.money; print(common.money.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert where.stdout.strip() == str(src / "common" / "money.py")
