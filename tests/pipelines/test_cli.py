"""`titans` on the command line: bad input is one line and exit code 2; list and schema work."""

import errno
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from titans.pipelines.cli import app

from .conftest import titans


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "{yaml}", "--set", "train.lrr=1"], "train.lrr: unknown key; did you mean 'lr'?"),
        (["validate", "{yaml}", "--set", "train.lr=fast"], "train.lr: Input should be a valid number"),
        (
            ["validate", "{yaml}", "--set", "data.exampels=3"],
            "data: exampels: unknown option; did you mean 'examples'?",
        ),
        (["validate", "{yaml}", "--set", "model.backbone.name=magg"], "model.backbone: unknown backbone 'magg'"),
        (["validate", "{yaml}", "--set", "model.backbone.heads=3"], "heads=3: must divide dim=16"),
        (
            ["validate", "{yaml}", "--set", "evaluate.metrics=[tiny-ma]"],
            "metrics[0]: unknown metric 'tiny-ma'; did you",
        ),
        (["validate", "{yaml}", "--set", "train"], "--set 'train': expected key=value"),
        (["validate", "{tmp}/absent.yaml"], "absent.yaml: no such pipeline definition file"),
        (["run", "{yaml}", "--resume"], "nothing to resume from"),
        (
            ["predict", "{yaml}", "-c", "{yaml}", "-i", "{yaml}", "-o", "{tmp}/p.csv"],
            "not a readable titans checkpoint",
        ),
        (
            ["predict", "{yaml}", "-c", "{yaml}", "-i", "{tmp}/none.csv", "-o", "{tmp}/p.csv"],
            "none.csv: no such input file",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tiny_yaml, tmp_path, args, message):
    result = CliRunner().invoke(app, [arg.format(yaml=tiny_yaml, tmp=tmp_path) for arg in args])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line
    assert not (tmp_path / "run").exists() and not (tmp_path / "p.csv").exists()


def test_a_real_process_exits_2_without_a_traceback(tiny_yaml):
    result = titans("run", str(tiny_yaml), "--set", "train.lrr=1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {tiny_yaml}: train.lrr: unknown key; did you mean 'lr'?"


def test_validate_list_and_schema(tiny_yaml):
    assert "valid" in titans("validate", str(tiny_yaml)).stdout
    listing = titans("list").stdout
    assert all(word in listing for word in ("tiny-regression", "tiny-means", "gated-deltanet", "metric"))
    assert "train" in json.loads(titans("schema").stdout)["properties"]


def _crash_loss(error: BaseException):
    def loss(self, model, batch):
        raise error

    return loss


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("nan", "error: training diverged: training loss is nan at step 0; lower train.lr; `titans run"),
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail"),
            "error: out of memory (CUDA out of memory. Tried to allocate 2.00 GiB); lower train.batch_size",
        ),
        (MemoryError(), "error: out of memory (no details); lower train.batch_size"),
    ],
)
def test_a_failing_run_is_one_line_and_exit_code_1(tiny_yaml, monkeypatch, failure, message):
    from . import tiny_task

    if failure == "nan":
        monkeypatch.setattr(tiny_task.TinyRegression, "loss", lambda self, model, batch: torch.tensor(float("nan")))
    else:
        monkeypatch.setattr(tiny_task.TinyRegression, "loss", _crash_loss(failure))
    result = CliRunner().invoke(app, ["run", str(tiny_yaml)])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message) and line.endswith("continues from the last checkpoint"), line


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tiny_yaml, tmp_path, monkeypatch):
    def full_disk(checkpoint, path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(torch, "save", full_disk)
    result = CliRunner().invoke(app, ["run", str(tiny_yaml)])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: no space left on the device while writing ") and ".ckpt;" in line, line
    assert not [path for path in (tmp_path / "run").rglob("*") if path.is_file() and path.suffix in (".tmp", ".ckpt")]


def test_other_errors_keep_their_traceback(tiny_yaml, monkeypatch):
    from . import tiny_task

    monkeypatch.setattr(tiny_task.TinyRegression, "loss", _crash_loss(RuntimeError("a bug of ours")))
    result = CliRunner().invoke(app, ["run", str(tiny_yaml)])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
