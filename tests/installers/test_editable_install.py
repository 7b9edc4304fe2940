"""The developer set-up (`scripts/venv.sh`): `pip install -e .` prints no setuptools warning box."""

from __future__ import annotations

import subprocess

import pytest

from tests.installers.test_wheel import _copy_sources, new_venv, pip_into


@pytest.mark.timeout(600)
@pytest.mark.slow
def test_editable_install_prints_no_warning_box_and_imports_from_the_checkout(tmp_path):
    src = tmp_path / "src"
    _copy_sources(src)
    bin_dir = new_venv(tmp_path / "venv")
    python = str(bin_dir / "python")
    # The same pip install as scripts/venv.sh (with the pip it upgrades to), without the
    # dependencies: the box would come from the build.
    install = pip_into(bin_dir, "--no-deps", "-e", str(src))
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
