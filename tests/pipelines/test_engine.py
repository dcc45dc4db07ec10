"""The engine end to end on the tiny task: every output, determinism, resume after SIGKILL, predict/evaluate."""

import csv
import json
import math

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Timer

from titans.pipelines import InputError, Pipeline
from titans.pipelines.engine import load_checkpoint

from .conftest import TINY, titans


def test_a_run_writes_every_output_and_a_seed_fixes_the_result(tiny_yaml):
    first = Pipeline.from_yaml(tiny_yaml).run()
    out = first.output_dir
    assert set(first.metrics) == {"val/loss", "val/tiny-mae", "test/loss", "test/tiny-mae"}
    assert all(math.isfinite(value) for value in first.metrics.values())
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(first.metrics)
    assert yaml.safe_load((out / "spec.yaml").read_text())["train"]["seed"] == 0
    for name in ["checkpoints/best.ckpt", "checkpoints/last.ckpt", "predictions/val.csv", "predictions/test.csv",
                 "logs/metrics.csv", "report.md"]:  # fmt: skip
        assert (out / name).is_file(), name
    assert "test/tiny-mae" in (out / "report.md").read_text()
    assert not list(out.rglob("*.tmp")), "a temporary file was left behind"
    again = Pipeline.from_yaml(tiny_yaml, [f"output.dir={out.parent / 'again'}"]).run()
    assert again.metrics == first.metrics
    other_seed = Pipeline.from_yaml(tiny_yaml, [f"output.dir={out.parent / 'seed1'}", "train.seed=1"]).run()
    assert other_seed.metrics != first.metrics


@pytest.mark.parametrize("settings", [[], ["--set", "train.ema_decay=0.9"]], ids=["plain", "weight-averaging"])
def test_a_run_killed_mid_epoch_resumes_to_the_same_metrics(tiny_yaml, tmp_path, settings):
    uninterrupted = titans("run", str(tiny_yaml), "--output", str(tmp_path / "whole"), *settings)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    # 4 steps per epoch, a checkpoint every 3: killed at step 8, the run resumes from step 6, mid-epoch.
    killed = titans("run", str(tiny_yaml), "--output", str(tmp_path / "cut"), *settings, TINY_TASK_KILL_AT_STEP="8")
    assert killed.returncode == -9
    assert not (tmp_path / "cut" / "metrics.json").exists()
    resumed = titans("run", str(tiny_yaml), "--output", str(tmp_path / "cut"), *settings, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text()) == whole


def test_resume_without_a_checkpoint_is_a_clear_error(tiny_yaml):
    with pytest.raises(InputError, match="nothing to resume from"):
        Pipeline.from_yaml(tiny_yaml).run(resume=True)


def test_predict_and_evaluate_from_a_checkpoint(tiny_yaml, tmp_path):
    result = Pipeline.from_yaml(tiny_yaml).run()
    checkpoint = result.output_dir / "checkpoints" / "best.ckpt"
    rows = tmp_path / "rows.csv"
    rows.write_text("0.5,0.5,0.5\n1,2,3,4\n")
    predicted = titans("predict", str(tiny_yaml), "-c", str(checkpoint), "-i", str(rows), "-o", str(tmp_path / "p.csv"))
    assert predicted.returncode == 0, predicted.stderr
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "prediction"
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 3
    evaluated = Pipeline.from_yaml(tiny_yaml, [f"output.dir={tmp_path / 'eval'}"]).evaluate_checkpoint(checkpoint)
    assert evaluated.metrics == pytest.approx(result.metrics)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "settings",
    [[], ["--set", "train.max_minutes=10", "--set", "train.schedule_over_minutes=true"]],
    ids=["steps", "clock"],  # the clock's reading is broadcast from rank 0 at every step
)
def test_two_process_ddp_on_cpu(tiny_yaml, tmp_path, settings):
    devices = ["--set", "train.strategy=ddp", "--set", "train.devices=2", "--set", "train.accelerator=cpu"]
    run = titans("run", str(tiny_yaml), "--output", str(tmp_path / "ddp"), *devices, *settings)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert all(math.isfinite(value) for value in metrics.values())
    # 64 training examples, 2 processes of batch 16: 2 steps per epoch, 3 epochs (one process would take 12)
    assert "training: 6 steps, 3 epochs" in (tmp_path / "ddp" / "report.md").read_text()


def test_a_run_shorter_than_an_epoch_with_early_stopping_evaluates(tmp_path):
    """max_steps shorter than an epoch with early stopping on: the only validation is at the last step."""
    spec = {**TINY, "output": {"dir": str(tmp_path / "run")}}
    spec["train"] = {**spec["train"], "max_steps": 2, "early_stopping_patience": 2}
    result = Pipeline.from_dict(spec).run()
    assert {"val/loss", "test/loss"} <= set(result.metrics)


@pytest.mark.parametrize("definition", ["forecast-demo", "genomics-demo", "language-demo"])
def test_demos_train_and_evaluate_under_bf16_mixed_precision(definition, tmp_path):
    """bf16-mixed is what `train.precision: auto` picks on a GPU; on CPU it runs the same autocast paths."""
    overrides = [f"output.dir={tmp_path}", "train.precision=bf16-mixed", "train.max_steps=3", "output.plots=false"]
    result = Pipeline.from_yaml(definition, overrides).run()
    assert result.metrics and all(math.isfinite(value) for value in result.metrics.values())


def test_precision_and_device_resolve_from_the_train_settings():
    """What training, evaluation and the benchmarks' step timing all run under (`benchmarks/budget.py`)."""
    explicit = Pipeline.from_yaml("language-demo", ["train.precision=32", "train.accelerator=cpu"])
    assert explicit.precision == "32-true"
    assert explicit.device() == torch.device("cpu")
    assert Pipeline.from_yaml("language-demo", ["train.precision=bf16-mixed"]).precision == "bf16-mixed"
    gpu = torch.cuda.is_available()
    assert Pipeline.from_yaml("language-demo").precision == ("bf16-mixed" if gpu else "32-true")
    assert Pipeline.from_yaml("language-demo").device() == torch.device("cuda" if gpu else "cpu")


def _compiled_against_eager(tiny_yaml, tmp_path, backbone: str) -> None:
    overrides = [f"model.backbone.name={backbone}", "output.plots=false"]
    eager = Pipeline.from_yaml(tiny_yaml, [*overrides, f"output.dir={tmp_path / 'eager'}"]).run()
    pipeline = Pipeline.from_yaml(tiny_yaml, [*overrides, f"output.dir={tmp_path / 'compiled'}", "train.compile=true"])
    compiled = pipeline.run()
    assert hasattr(pipeline.module.training_loss, "_torchdynamo_orig_callable"), "the training loss is not compiled"
    assert compiled.metrics == pytest.approx(eager.metrics, rel=1e-4)


def test_compiled_training_matches_eager_training(tiny_yaml, tmp_path):
    """`train.compile` runs the same math through torch.compile: 4 steps of 16 an epoch (no partial batch to
    drop), the same metrics.  Transformer++ compiles in seconds; the tiny MAG takes minutes (the slow job)."""
    _compiled_against_eager(tiny_yaml, tmp_path, "transformer")


def test_compiled_training_without_one_whole_batch_is_a_clear_error(tiny_yaml):
    overrides = ["train.compile=true", "train.batch_size=100"]  # the tiny task trains on 64 examples
    with pytest.raises(InputError, match=r"64 examples are fewer than train.batch_size=100"):
        Pipeline.from_yaml(tiny_yaml, overrides).run()


@pytest.mark.slow
def test_compiled_mag_training_matches_eager_training(tiny_yaml, tmp_path):
    """The memory's chunk recurrence compiled (about 4 minutes of compiling on one CPU core)."""
    _compiled_against_eager(tiny_yaml, tmp_path, "mag")


def test_a_new_run_into_a_used_folder_never_evaluates_the_earlier_runs_checkpoint(tmp_path):
    """A run without a validation split is evaluated from its last checkpoint, not from the best checkpoint
    an earlier run left in the same output folder."""
    spec = {**TINY, "output": {"dir": str(tmp_path / "run")}}
    earlier = Pipeline.from_dict({**spec, "train": {**spec["train"], "seed": 1}}).run()
    assert earlier.checkpoint.name == "best.ckpt"
    unvalidated = {**spec, "data": {**spec["data"], "validation": False}}
    again = Pipeline.from_dict(unvalidated).run()
    alone = Pipeline.from_dict({**unvalidated, "output": {"dir": str(tmp_path / "alone")}}).run()
    assert again.checkpoint.name == "last.ckpt"
    assert again.metrics == alone.metrics


def test_a_run_ended_by_max_steps_mid_epoch_validates_its_last_step(tmp_path):
    """4 steps per epoch, max_steps 6: validated after steps 4 and 6, so step 6 can be the best checkpoint."""
    spec = {**TINY, "output": {"dir": str(tmp_path / "run")}}
    spec["train"] = {**spec["train"], "max_steps": 6}
    result = Pipeline.from_dict(spec).run()
    with open(result.output_dir / "logs" / "metrics.csv") as log:
        validated = [int(row["step"]) for row in csv.DictReader(log) if row.get("val/loss")]
    assert validated == [3, 5]  # Lightning logs the step index, one less than the steps taken


def test_the_schedule_spans_the_training_split_even_when_the_module_is_built_before_the_data(tmp_path):
    """The cosine schedule's length counts the training examples; building the module first (as a notebook
    may, to look at the model) once left it at zero steps, so the whole run trained at the floor rate."""
    spec = {**TINY, "output": {"dir": str(tmp_path / "usual")}}
    usual = Pipeline.from_dict(spec).run()
    early = Pipeline.from_dict({**spec, "output": {"dir": str(tmp_path / "early")}})
    assert early.module.train_size == 0  # built before any data is read
    assert early.run().metrics == usual.metrics


def test_a_schedule_over_minutes_anneals_with_the_clock(tmp_path, monkeypatch):
    """The reference run's cosine spans 8 steps. The clocked run has room for 16 steps, but a fake clock spends
    its one-minute budget in 8: the decay must follow the clock, step for step, and the timer stop the run at 8,
    so both runs score the same. Without the clock the second run would decay half as fast."""
    spec = {**TINY, "output": {"dir": str(tmp_path / "by-steps")}}
    train = {**spec["train"], "warmup_steps": 0, "max_epochs": 10}
    by_steps = Pipeline.from_dict({**spec, "train": {**train, "max_steps": 8}}).run()
    started = {}
    monkeypatch.setattr(Timer, "on_train_start", lambda timer, trainer, module: started.update(trainer=trainer))
    steps_taken = lambda: started["trainer"].global_step if started else 0  # noqa: E731
    monkeypatch.setattr(Timer, "time_elapsed", lambda timer, stage="train": 60 * steps_taken() / 8)
    clocked_train = {**train, "max_steps": 16, "max_minutes": 1, "schedule_over_minutes": True}
    clocked = Pipeline.from_dict({**spec, "train": clocked_train, "output": {"dir": str(tmp_path / "clocked")}}).run()
    assert clocked.metrics == pytest.approx(by_steps.metrics, rel=1e-6)
    unclocked_train = {**clocked_train, "schedule_over_minutes": False}
    started.clear()  # the fake clock restarts
    unclocked = Pipeline.from_dict({**spec, "train": unclocked_train, "output": {"dir": str(tmp_path / "plain")}}).run()
    assert unclocked.metrics["val/loss"] != pytest.approx(by_steps.metrics["val/loss"], rel=1e-4)


def test_weight_averaging_validates_checkpoints_and_evaluates_the_average(tmp_path):
    """A decay this close to 1 keeps the average at its first value, the weights after step 1, while training
    goes on for 12 steps: the run must then score exactly as a run stopped after step 1."""
    spec = {**TINY, "output": {"dir": str(tmp_path / "one-step")}}
    one_step = Pipeline.from_dict({**spec, "train": {**spec["train"], "max_steps": 1}}).run()
    averaged_spec = {**spec, "train": {**spec["train"], "ema_decay": 1 - 1e-9}}
    averaged = Pipeline.from_dict({**averaged_spec, "output": {"dir": str(tmp_path / "averaged")}}).run()
    assert averaged.metrics == pytest.approx(one_step.metrics, rel=1e-6)
    checkpoint = load_checkpoint(averaged.checkpoint)
    trained = checkpoint["current_model_state"]  # the raw weights ride along for --resume
    assert any(not torch.equal(trained[name], value) for name, value in checkpoint["state_dict"].items())
    plain = Pipeline.from_dict({**spec, "output": {"dir": str(tmp_path / "plain")}}).run()
    assert plain.metrics["val/loss"] != pytest.approx(averaged.metrics["val/loss"], rel=1e-3)
