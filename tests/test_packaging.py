"""The distribution installs as one package with five import names, both editable and as a wheel."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import titans.core

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["titans.core", "titans.genomics", "titans.forecasting", "titans.language", "titans.pipelines"]


def test_editable_install_imports_from_the_source_tree():
    assert Path(titans.core.__file__).resolve() == ROOT / "core" / "__init__.py"


def test_wheel_holds_and_imports_every_package(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "*.egg-info", "build"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", source], check=True)
    (wheel,) = (tmp_path / "dist").glob("titans-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", tmp_path / "site", wheel], check=True)
    code = "import importlib, sys; print(*(importlib.import_module(p).__file__ for p in sys.argv[1:]), sep='\\n')"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run([sys.executable, "-c", code, *PACKAGES], env=env, capture_output=True, text=True, check=True)
    files = run.stdout.split()
    assert len(files) == len(PACKAGES)
    assert all(f.startswith(str(tmp_path / "site")) for f in files), files


def test_importing_titans_leaves_the_plotting_backend_alone():
    """A library must not switch matplotlib's backend: in Jupyter that would stop plots showing inline."""
    imports = "; ".join(f"import {package}" for package in PACKAGES)
    code = f"import matplotlib; {imports}; print(matplotlib.get_backend())"
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MPLBACKEND": "svg"}, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert run.stdout.strip() == "svg"


def test_the_cli_runs_as_a_module():
    """`python -m titans.pipelines.cli` is the command a launcher can rerun without the console script (the GUE
    benchmark's data-parallel processes start this way)."""
    run = subprocess.run([sys.executable, "-m", "titans.pipelines.cli", "--help"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "validate" in run.stdout
