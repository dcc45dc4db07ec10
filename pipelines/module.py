"""The LightningModule every pipeline trains: a task's model, its loss and metrics, AdamW with linear
warm-up and cosine decay.  Checkpoints carry the definition and the task's own state, so `titans predict`
and `titans evaluate` need nothing but the checkpoint and the definition."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from torch import Tensor, nn

from .spec import PipelineSpec
from .task import Task


def concat_outputs(batches: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    if not batches:
        return {}
    return {key: torch.cat([batch[key].detach() for batch in batches]) for key in batches[0]}


def split_metrics(task: Task, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
    """`<split>/loss` (the mean of the per-example losses) and `<split>/<metric>` for each named metric."""
    metrics = {f"{split}/loss": outputs["loss"].float().mean().item()}
    for name, metric in task.components.metrics.items():
        metrics[f"{split}/{name}"] = float(metric(outputs))
    return metrics | task.detailed_metrics(outputs, split)


def warmup_cosine(warmup: int, total: float, floor: float, budget_spent: Callable[[], float] | None = None):
    """Learning-rate factor at a step: linear warm-up to 1, then cosine decay to `floor`. The decay's progress is
    the share of the `total` steps taken after the warm-up or, when `budget_spent` is given, the share of the
    wall-clock budget spent (0 to 1), whichever is larger."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        by_steps = (step - warmup) / (total - warmup) if math.isfinite(total) and total > warmup else None
        by_clock = budget_spent() if budget_spent is not None else None
        shares = [share for share in (by_steps, by_clock) if share is not None]
        if not shares:  # no step limit and no clock: a constant rate after the warm-up
            return 1.0
        progress = min(1.0, max(shares))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class PipelineModule(L.LightningModule):
    def __init__(self, spec: PipelineSpec, task: Task, model: nn.Module):
        super().__init__()
        self.spec, self.task, self.model = spec, task, model
        self.train_size = 0  # training examples, set by the engine before it fits (the schedule's length)
        self._validation_outputs: list[dict[str, Tensor]] = []
        # Only the training loss is compiled: evaluation and prediction stay eager (and on a GPU pick the kernels).
        self.training_loss = torch.compile(task.loss, dynamic=False) if spec.train.compile else task.loss

    def training_step(self, batch, batch_index: int) -> Tensor:
        loss = self.training_loss(self.model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}; lower train.lr")
        self.log("train/loss", loss, prog_bar=True, batch_size=self.spec.train.batch_size)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_index: int) -> None:
        # Lightning validates at epoch ends and when a run is asked to stop (as a time limit does), but not when
        # max_steps ends a run mid-epoch: its last steps would never be validated, and the best checkpoint
        # would be chosen without them. Asking it to stop at the last step makes it validate that step too.
        if 0 < self.trainer.max_steps <= self.global_step:
            self.trainer.should_stop = True

    def validation_step(self, batch, batch_index: int) -> None:
        self._validation_outputs.append(self.task.outputs(self.model, batch))

    def on_validation_epoch_end(self) -> None:
        outputs = concat_outputs(self._validation_outputs)
        self._validation_outputs.clear()
        if not outputs:
            return
        if self.trainer.world_size > 1:  # every rank computes the metrics of the whole split
            outputs = {key: self.all_gather(value).flatten(0, 1) for key, value in outputs.items()}
        outputs = {key: value.cpu() for key, value in outputs.items()}  # metrics run on the host (scikit-learn)
        self.log_dict(split_metrics(self.task, outputs, "val"), prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        train = self.spec.train
        matrices = [p for p in self.model.parameters() if p.ndim >= 2]  # weight decay skips norms and biases
        others = [p for p in self.model.parameters() if p.ndim < 2]
        groups = [{"params": matrices, "weight_decay": train.weight_decay}, {"params": others, "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=train.lr, betas=train.betas)
        budget_spent = self._budget_spent if train.schedule_over_minutes else None
        factor = warmup_cosine(train.warmup_steps, self._total_steps(), train.min_lr_ratio, budget_spent)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _total_steps(self) -> float:
        """Optimizer steps the run will take.  Counted here: Lightning's `estimated_stepping_batches` loads
        the training data early, which makes a --resume skip restoring the loader's mid-epoch position."""
        train = self.spec.train
        per_rank = math.ceil(self.train_size / self.trainer.world_size)
        # a compiled run drops each epoch's last partial batch (Pipeline._loader)
        per_epoch = per_rank // train.batch_size if train.compile else math.ceil(per_rank / train.batch_size)
        by_epochs = per_epoch * train.max_epochs if train.max_epochs else math.inf
        return min(by_epochs, train.max_steps if train.max_steps > 0 else math.inf)

    def _budget_spent(self) -> float:
        """The share of `train.max_minutes` spent so far, by the trainer's own timer (which a resumed run
        restores from the checkpoint). Rank 0's reading, so that every data-parallel process steps at one rate."""
        timer = next(callback for callback in self.trainer.callbacks if isinstance(callback, Timer))
        return self.trainer.strategy.broadcast(timer.time_elapsed() / (self.spec.train.max_minutes * 60))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["titans"] = {
            "spec": self.spec.model_dump(mode="json"),
            "task_state": self.task.state_dict(),
            "torch_rng": torch.get_rng_state(),  # augmentation draws continue where they stopped on --resume
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        torch.set_rng_state(checkpoint["titans"]["torch_rng"])
        self.task.load_state_dict(checkpoint["titans"]["task_state"])
