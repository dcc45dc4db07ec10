import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from . import tiny_task  # noqa: F401  (registers the tiny task's components in this process)

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "name": "tiny",
    "task": "tiny-regression",
    "data": {"name": "tiny-means"},
    "model": {
        "backbone": {"name": "mag", "dim": 16, "depth": 1, "heads": 2, "window": 8, "chunk_size": 4, "persistent": 2}
    },
    "train": {"max_epochs": 3, "batch_size": 16, "warmup_steps": 2, "lr": 3e-3, "checkpoint_every_n_steps": 3},
}


@pytest.fixture
def tiny_yaml(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "output": {"dir": str(tmp_path / "run")}}))
    return path


def titans(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The `titans` command in a fresh process, with the tiny task as a plugin."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TITANS_PLUGINS": "tests.pipelines.tiny_task", **env}
    command = [str(Path(sys.executable).parent / "titans"), *args]  # the installed entry point
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=300)
