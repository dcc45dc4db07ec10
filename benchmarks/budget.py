"""Fitting a training run to a wall-clock budget, for the benchmarks that compare models at equal time.

    steps = steps_within("language-shakespeare", overrides, minutes=20)
    Pipeline.from_yaml("language-shakespeare", [*overrides, f"train.max_steps={steps}"]).run()

A definition's learning-rate schedule (linear warm-up, then cosine decay) spans `train.max_steps`, or all of
`train.max_epochs` when no step limit is set. Under a time budget a run stops long before many epochs end,
so its learning rate would barely start to decay. Setting `train.max_steps` to the steps that fit in the
budget makes the schedule end with it. The steps are timed on real batches of the definition's model, so the
result stays deterministic for a given step count; `train.max_minutes` stays as the hard stop.
(`train.schedule_over_minutes` follows the clock instead: no timing needed, but runs do not repeat step for step.)
language.py uses it under `--budget steps`, and step_cost.py uses `seconds_per_step` alone. On GUE it cost
4-5 MCC points at 3 minutes (benchmarks/RESULTS.md), so genomics_gue.py does not.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils.data import DataLoader

from titans.pipelines import Pipeline


def step_seconds(definition: str, overrides: list[str], timed: int = 12) -> list[float]:
    """Seconds of each of `timed` optimizer steps (batch transfer, forward, backward, update) of this definition's
    model on its own training batches, on the device, at the precision and with the compiled or eager loss that
    its training would use. The first steps warm up (with `train.compile`, the first one compiles)."""
    pipeline = Pipeline.from_yaml(definition, overrides)
    splits, batch_size = pipeline.splits, pipeline.spec.train.batch_size
    batches = DataLoader(splits.train, batch_size=batch_size, shuffle=True, collate_fn=splits.collate, drop_last=True)
    device, precision = pipeline.device(), pipeline.precision
    autocast_dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    module = pipeline.module
    model = module.model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters())
    seconds = []
    for _, batch in zip(range(timed), batches, strict=False):
        started = time.perf_counter()
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = module.training_loss(model, move_data_to_device(batch, device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return seconds


def _after_warmup(seconds: list[float]) -> float:
    """The median of the last two thirds of step timings."""
    return float(np.median(seconds[len(seconds) // 3 :]))


def seconds_per_step(definition: str, overrides: list[str], timed: int = 12) -> float:
    """Seconds per optimizer step after the warm-up steps (`step_seconds`)."""
    return _after_warmup(step_seconds(definition, overrides, timed))


def steps_within(definition: str, overrides: list[str], minutes: float, share: float = 0.9, timed: int = 12) -> int:
    """Optimizer steps of this model that fit in `share` of `minutes` (the rest is left for the validation
    passes), less the first step's excess over the others (compiling, with `train.compile`)."""
    seconds = step_seconds(definition, overrides, timed)
    per_step = _after_warmup(seconds)
    return max(1, int((share * minutes * 60 - max(0.0, seconds[0] - per_step)) / per_step))
