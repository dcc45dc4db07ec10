"""Run a pipeline definition: train with Lightning, select the best checkpoint on validation, evaluate,
and write every output into one directory, atomically.

    from titans.pipelines import Pipeline
    result = Pipeline.from_yaml("forecast.yaml", ["train.max_epochs=3"]).run()
    result.metrics["test/mse"]

Outputs: spec.yaml (the resolved definition), metrics.json (flat `<split>/<metric>` keys),
checkpoints/{best,last}.ckpt, predictions/<split>.*, plots/*.png, logs/metrics.csv and report.md.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.callbacks import EarlyStopping, EMAWeightAveraging, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch import nn
from torch.utils.data import Dataset, Sampler
from torchdata.stateful_dataloader import StatefulDataLoader

from titans.core import build_backbone

from .errors import InputError, SpecError
from .module import PipelineModule, concat_outputs, split_metrics
from .outputs import AtomicCheckpointIO, write_json, write_text
from .report import write_report
from .spec import PipelineSpec, load_spec, parse_spec
from .task import Splits, Task, build_task


@dataclass
class RunResult:
    metrics: dict[str, float]
    output_dir: Path
    checkpoint: Path | None
    files: list[Path]


def _precision(requested: str) -> str:
    if requested != "auto":
        return "32-true" if requested == "32" else requested
    return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"


def _damage(path: Path) -> str | None:
    """What is damaged in a checkpoint (a zip archive) whose parts fail their CRC-32: torch.load does not
    check, so a flipped bit would load as a silently different weight."""
    if not zipfile.is_zipfile(path):
        return None  # not an archive at all: torch.load says so
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError):
        return "its zip structure is damaged"
    return f"the checksum of its part {damaged.split('/', 1)[-1]!r} does not match" if damaged else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents, loaded without running code from the file (weights_only), and checked to
    hold what a titans checkpoint holds: weights, the pipeline definition and the task's state. A folder
    written by `titans export` is read into the same shape."""
    path = Path(path)
    if path.is_dir():  # a folder written by `titans export`
        from .export import exported_checkpoint

        return exported_checkpoint(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    damage = _damage(path)
    if damage:
        raise InputError(f"{path}: corrupted, {damage} (copy it again)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        code = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if code:
            raise InputError(
                f"{path}: refused, loading it would run code ({code.group(1)}); not a titans checkpoint"
            ) from None
        raise InputError(
            f"{path}: not a readable titans checkpoint (truncated, corrupted or another format: "
            f"{error.__class__.__name__})"
        ) from None
    if not isinstance(checkpoint, dict) or "titans" not in checkpoint or "state_dict" not in checkpoint:
        raise InputError(f"{path}: not a titans checkpoint (no pipeline definition inside)")
    titans = checkpoint["titans"]
    for field in ("spec", "task_state"):
        if not isinstance(titans, dict) or not isinstance(titans.get(field), dict):
            raise InputError(f"{path}: a damaged titans checkpoint (titans.{field} is missing)")
    if not isinstance(checkpoint["state_dict"], dict):
        raise InputError(f"{path}: a damaged titans checkpoint (state_dict is not a mapping of weights)")
    parse_spec(titans["spec"], str(path))  # a definition that no longer validates is named here, with the file
    return checkpoint


class EpochShuffle(Sampler[int]):
    """A permutation per epoch drawn from (seed, epoch) alone, resumable mid-epoch: the stateful loader
    saves (epoch, indices handed out) in every checkpoint, and --resume carries on from there."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0
        self.position = self.resume_at = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        self.position, self.resume_at = self.resume_at, 0
        while self.position < self.size:
            self.position += 1
            yield order[self.position - 1]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.resume_at = state["epoch"], state["position"]


class Pipeline:
    def __init__(self, spec: PipelineSpec):
        """Check the whole definition (components, options, backbone) without reading any data."""
        self.spec = spec
        L.seed_everything(spec.train.seed, workers=True, verbose=False)  # before any weight is drawn
        self.task: Task = build_task(spec)
        self.backbone = self._backbone()
        self._splits: Splits | None = None
        self._module: PipelineModule | None = None

    @classmethod
    def from_yaml(cls, name_or_path: str | Path, overrides: list[str] | None = None) -> Pipeline:
        return cls(load_spec(name_or_path, overrides))

    @classmethod
    def from_checkpoint(cls, checkpoint: Path) -> Pipeline:
        """The definition a checkpoint was trained with, its task state and weights restored."""
        pipeline = cls(parse_spec(load_checkpoint(checkpoint)["titans"]["spec"], str(checkpoint)))
        pipeline.load_checkpoint(checkpoint)
        return pipeline

    @classmethod
    def for_checkpoint(cls, spec: PipelineSpec, checkpoint: Path) -> Pipeline:
        """This definition with the model the checkpoint was trained with (its `features` and `model`
        sections), so evaluating or predicting never needs the training overrides repeated."""
        trained = parse_spec(load_checkpoint(checkpoint)["titans"]["spec"], str(checkpoint)).model_dump(mode="json")
        if trained["task"] != spec.task:
            raise InputError(f"{checkpoint}: a checkpoint of task {trained['task']!r}, not {spec.task!r}")
        raw = spec.model_dump(mode="json") | {"features": trained["features"], "model": trained["model"]}
        merged = parse_spec(raw, spec.source, spec.base_dir)
        merged.output.dir = spec.output.dir
        return cls(merged)

    @classmethod
    def from_dict(cls, raw: dict, base_dir: Path | None = None) -> Pipeline:
        return cls(parse_spec(raw, "<dict>", base_dir))

    def _backbone(self) -> nn.Module:
        backbone = self.spec.model.backbone
        try:
            return build_backbone(backbone.name, **backbone.options)
        except (TypeError, ValueError) as error:
            raise SpecError(f"{self.spec.source}: model.backbone: {error}") from None

    @property
    def output_dir(self) -> Path:
        return self.spec.output_dir

    @property
    def splits(self) -> Splits:
        if self._splits is None:
            self._splits = self.task.splits()
        return self._splits

    @property
    def module(self) -> PipelineModule:
        """The trainable module; built after the data is read or a checkpoint's task state is restored
        (a head may need the number of classes, a featurizer the vocabulary)."""
        if self._module is None:
            self._module = PipelineModule(self.spec, self.task, self.task.build_model(self.backbone))
        return self._module

    def load_checkpoint(self, path: Path) -> dict[str, Any]:
        """Restore a checkpoint of this definition's task: the task's state, then the weights."""
        state = load_checkpoint(path)
        trained_task = state["titans"]["spec"]["task"]
        if trained_task != self.spec.task:
            raise InputError(f"{path}: a checkpoint of task {trained_task!r}, not {self.spec.task!r}")
        try:
            self.task.load_state_dict(state["titans"]["task_state"])
            module = self.module
        except KeyError as error:
            raise InputError(f"{path}: a damaged titans checkpoint (the task state has no {error})") from None
        try:
            module.load_state_dict(state["state_dict"])
        except RuntimeError as error:
            detail = " ".join(str(error).splitlines()[1:2]).strip()[:200]
            raise InputError(f"{path}: its weights do not fit this definition's model ({detail})") from None
        return state

    def _loader(self, dataset: Dataset, train: bool) -> StatefulDataLoader:
        spec = self.spec.train
        sampler = EpochShuffle(len(dataset), spec.seed) if train else None
        return StatefulDataLoader(
            dataset,
            batch_size=spec.batch_size if train else spec.eval_batch_size or spec.batch_size,
            sampler=sampler,
            collate_fn=self.splits.collate,
            num_workers=spec.num_workers,
            drop_last=train and spec.compile,  # a compiled step has one batch shape
        )

    def _trainer(self, resume: bool) -> L.Trainer:
        spec, evaluate, out = self.spec.train, self.spec.evaluate, self.output_dir
        has_validation = self.splits.val is not None
        last = ModelCheckpoint(
            out / "checkpoints", save_last=True, save_top_k=0, every_n_train_steps=spec.checkpoint_every_n_steps
        )
        callbacks: list = [last]
        if spec.ema_decay is not None:  # validates and saves the average in place of the weights it trains
            callbacks.append(EMAWeightAveraging(decay=spec.ema_decay))
        if has_validation:
            callbacks.append(
                ModelCheckpoint(
                    out / "checkpoints",
                    filename="best",
                    monitor=evaluate.monitor,
                    mode=evaluate.mode,
                    save_top_k=1,
                    enable_version_counter=False,
                    auto_insert_metric_name=False,
                )
            )
            if spec.early_stopping_patience:
                callbacks.append(
                    # checked after validations only (a run ended by max_steps or max_minutes validates its
                    # last step too: PipelineModule.on_train_batch_end)
                    EarlyStopping(
                        evaluate.monitor,
                        patience=spec.early_stopping_patience,
                        mode=evaluate.mode,
                        check_on_train_epoch_end=False,
                    )
                )
        interactive = sys.stdout.isatty() or "ipykernel" in sys.modules  # a terminal or a notebook
        if interactive:
            callbacks.append(RichProgressBar())
        attempt = f"resume-{len(list((out / 'logs').glob('resume-*'))) + 1}" if resume else ""
        loggers: list = [CSVLogger(out, name="logs", version=attempt)]  # a resumed run logs beside the first
        if spec.tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                raise SpecError(f"{self.spec.source}: train.tensorboard: needs `pip install tensorboard`")
            loggers.append(TensorBoardLogger(out, name="tensorboard", version=""))
        return L.Trainer(
            accelerator=spec.accelerator, devices=spec.devices, strategy=spec.strategy, num_nodes=spec.num_nodes,
            precision=self.precision, max_epochs=spec.max_epochs, max_steps=spec.max_steps,
            max_time={"minutes": spec.max_minutes} if spec.max_minutes else None,
            gradient_clip_val=spec.gradient_clip, deterministic=spec.deterministic, callbacks=callbacks,
            logger=loggers, log_every_n_steps=spec.log_every_n_steps, enable_progress_bar=interactive,
            enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=1.0 if has_validation else 0,
            plugins=[AtomicCheckpointIO()], default_root_dir=out,
        )  # fmt: skip

    def run(self, resume: bool = False) -> RunResult:
        """Train, then evaluate the best checkpoint on val and test and write every output."""
        out = self.output_dir
        last = out / "checkpoints" / "last.ckpt"
        if resume and not last.is_file():
            raise InputError(f"{last}: nothing to resume from (no last checkpoint in {out})")
        splits, module = self.splits, self.module
        module.train_size = len(splits.train)  # the schedule's length, whenever the module was built
        train = self.spec.train
        if train.compile and len(splits.train) < train.batch_size:
            raise InputError(
                f"train.compile drops each epoch's last partial batch, and the training split's {len(splits.train)} "
                f"examples are fewer than train.batch_size={train.batch_size}: lower it or set train.compile=false"
            )
        trainer = self._trainer(resume)
        if trainer.is_global_zero:
            if not resume:  # an earlier run's best.ckpt in this folder must never be evaluated as this run's
                shutil.rmtree(out / "checkpoints", ignore_errors=True)
            write_text(out / "spec.yaml", yaml.safe_dump(self.spec.model_dump(mode="json"), sort_keys=False))
        started = time.perf_counter()
        trainer.fit(
            module,
            train_dataloaders=self._loader(splits.train, train=True),
            val_dataloaders=self._loader(splits.val, train=False) if splits.val is not None else None,
            ckpt_path=last if resume else None,
        )
        if not trainer.is_global_zero:
            return RunResult({}, out, None, [])
        best = out / "checkpoints" / "best.ckpt"
        checkpoint = best if best.is_file() else last
        module.load_state_dict(load_checkpoint(checkpoint)["state_dict"])
        summary = {
            "steps": trainer.global_step,
            "epochs": trainer.current_epoch,
            "seconds": time.perf_counter() - started,
        }
        return self._finish(checkpoint, summary)

    def evaluate_checkpoint(self, checkpoint: Path) -> RunResult:
        """Evaluate a trained checkpoint of this definition on its val and test splits."""
        if self.splits.val is None and self.splits.test is None:  # read before the model: it may size the head
            raise InputError(f"{self.spec.source}: data {self.spec.data.name!r} has no val or test split to evaluate")
        self.load_checkpoint(checkpoint)
        return self._finish(Path(checkpoint), {})

    def predict(self, checkpoint: Path, input_path: Path, output_path: Path) -> int:
        """Predictions of a trained checkpoint for a user's file; returns the number of records written."""
        self.load_checkpoint(checkpoint)
        return self.predict_file(input_path, output_path)

    def predict_file(self, input_path: Path, output_path: Path) -> int:
        """Predictions of the model as it is (restored from a checkpoint or an export) for a user's file."""
        if not Path(input_path).exists():
            raise InputError(f"{input_path}: no such input file")
        model = self.module.model.to(self.device()).eval()
        return self.task.predict(model, Path(input_path), Path(output_path))

    @property
    def precision(self) -> str:
        """Lightning's precision for this run: `train.precision` with "auto" resolved (bf16-mixed on a GPU that
        supports it, else 32-true)."""
        return _precision(self.spec.train.precision)

    def device(self) -> torch.device:
        """Where this pipeline's model runs (training on one device, evaluation, prediction): the GPU when there is
        one and `train.accelerator` allows it."""
        gpu = torch.cuda.is_available() and self.spec.train.accelerator != "cpu"
        return torch.device("cuda" if gpu else "cpu")

    def _finish(self, checkpoint: Path, summary: dict[str, Any]) -> RunResult:
        out, metrics, files = self.output_dir, {}, []
        for split in ("val", "test"):
            dataset = getattr(self.splits, split)
            if dataset is None:
                continue
            outputs = self.evaluate(dataset)
            metrics.update(split_metrics(self.task, outputs, split))
            if self.spec.output.predictions and (
                written := self.task.write_predictions(outputs, split, out / "predictions" / split)
            ):
                files.append(written)  # fmt: skip
            if self.spec.output.plots:
                files.extend(self.task.plot(outputs, split, out / "plots"))
        files.append(write_json(out / "metrics.json", metrics))
        files.append(write_report(out / "report.md", self.spec, self.module.model, metrics, summary, checkpoint, files))
        return RunResult(metrics, out, checkpoint, files)

    @torch.no_grad()
    def evaluate(self, dataset: Dataset) -> dict[str, torch.Tensor]:
        """The task's outputs over a whole dataset, in one process, on the GPU when there is one."""
        device = self.device()
        model = self.module.model.to(device).eval()
        batches = [
            move_data_to_device(self.task.outputs(model, move_data_to_device(batch, device)), "cpu")
            for batch in self._loader(dataset, train=False)
        ]
        model.train()
        return concat_outputs(batches)
