"""report.md: what ran, how long, and how well, in a page a person reads first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from .outputs import write_text
from .spec import PipelineSpec


def write_report(
    path: Path,
    spec: PipelineSpec,
    model: nn.Module,
    metrics: dict[str, float],
    summary: dict[str, Any],
    checkpoint: Path,
    files: list[Path],
) -> Path:
    backbone = spec.model.backbone
    options = ", ".join(f"{key}={value}" for key, value in backbone.options.items()) or "defaults"
    lines = [
        f"# {spec.name}",
        "",
        spec.description or f"A `{spec.task}` pipeline.",
        "",
        f"- task: `{spec.task}`; data: `{spec.data.name}`",
        f"- backbone: `{backbone.name}` ({options}); {sum(p.numel() for p in model.parameters()):,} parameters",
        f"- checkpoint evaluated: `{checkpoint.name}`",
    ]
    if summary:
        steps, epochs, seconds = summary["steps"], summary["epochs"], summary["seconds"]
        lines.append(f"- training: {steps} steps, {epochs} epochs, {seconds:.1f} s, seed {spec.train.seed}")
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4g} |" for name, value in sorted(metrics.items())]
    lines += ["", "Files:", ""]
    lines += [f"- `{file.relative_to(path.parent)}`" for file in files if file.is_relative_to(path.parent)]
    return write_text(path, "\n".join(lines) + "\n")
