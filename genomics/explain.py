"""Per-base tracks that point at what a trained classifier looked at (`titans explain`):

- surprise: how strongly each base updated the backbone's memory, theta_t * |grad l(M; k_t, v_t)|
  (`titans.core.surprise_tracks`; backbones with memory layers only);
- saliency: gradient x input (Shrikumar et al. 2017) of the predicted class's logit (forward strand) with
  respect to each token's embedding, summed over the embedding: positive where a base pushed towards the
  prediction.
A k-mer token is credited to the last base it adds. Written as one TSV with every track, a bedGraph per
track (the record id as the chromosome, 0-based positions) and a plot of the first records.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import torch
from torch import Tensor

from titans.core import surprise_tracks
from titans.pipelines import InputError
from titans.pipelines.outputs import save_figure, write_atomic

from .model import DnaClassifier
from .tokenizers import PAD, KmerTokenizer


def saliency(model: DnaClassifier, tokens: Tensor) -> Tensor:
    """Gradient x input of the predicted class's logit for tokens [1, T]: one value per token, [T]."""
    with torch.enable_grad():
        embedded = model.featurizer(tokens).detach().requires_grad_()  # [1, T, dim]
        h, _ = model.backbone(embedded)
        logits = model.head(h, tokens != PAD)  # [1, classes]
        (gradient,) = torch.autograd.grad(logits[0, logits[0].argmax()], embedded)
    return (gradient * embedded).sum(-1)[0].detach()


def _surprise(model: DnaClassifier, tokens: Tensor) -> Tensor | None:
    """The memory's surprise per token [T], or None for a backbone without memory layers."""
    try:
        with torch.no_grad():
            return surprise_tracks(model.backbone, model.featurizer(tokens))[0]
    except ValueError:
        return None


def explain_records(
    model: DnaClassifier, sequences: list[tuple[str, str]], tokenizer: KmerTokenizer, output_dir: Path, where: str
) -> list[Path]:
    """Tracks for (id, sequence) pairs, written under `output_dir`; returns the files written."""
    columns: dict[str, list] = {"id": [], "position": [], "base": [], "surprise": [], "saliency": []}
    for record_id, sequence in sequences:
        tokens = torch.tensor([tokenizer.encode(sequence)])
        surprise, salient = _surprise(model, tokens), saliency(model, tokens)
        for index in range(tokens.shape[1]):
            position = min(index * tokenizer.stride + tokenizer.k - 1, len(sequence) - 1)
            columns["id"].append(record_id), columns["position"].append(position)
            columns["base"].append(sequence[position]), columns["saliency"].append(float(salient[index]))
            columns["surprise"].append(None if surprise is None else float(surprise[index]))
    if not columns["id"]:
        raise InputError(f"{where}: no records to explain")
    frame = pl.DataFrame(columns)
    tracks = ["saliency"] if frame["surprise"].is_null().all() else ["surprise", "saliency"]
    frame = frame.select("id", "position", "base", *tracks)
    output_dir = Path(output_dir)
    files = [write_atomic(output_dir / "tracks.tsv", lambda temporary: frame.write_csv(temporary, separator="\t"))]
    for track in tracks:
        bedgraph = frame.select("id", "position", (pl.col("position") + 1).alias("end"), track)
        files.append(write_atomic(output_dir / f"{track}.bedgraph",
                                  lambda temporary, b=bedgraph: b.write_csv(temporary, separator="\t",
                                                                            include_header=False)))  # fmt: skip
    return [*files, plot_tracks(output_dir / "tracks.png", frame, tracks)]


def plot_tracks(path: Path, frame: pl.DataFrame, tracks: list[str], records: int = 4) -> Path:
    """The tracks of the first few records, one panel per record, each track scaled to its largest value."""
    import matplotlib.pyplot as plt

    ids = frame["id"].unique(maintain_order=True).to_list()[:records]
    figure, axes = plt.subplots(len(ids), 1, figsize=(10, 1.8 * len(ids)), squeeze=False)
    for axis, record in zip(axes[:, 0], ids):
        rows = frame.filter(pl.col("id") == record)
        for track in tracks:
            values = rows[track]
            scale = values.abs().max() or 1.0
            axis.plot(rows["position"], values / scale, linewidth=1, label=track)
        axis.set_ylabel(record, fontsize=8)
        if rows.height <= 120:
            axis.set_xticks(rows["position"].to_list(), rows["base"].to_list(), fontsize=6)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[0, 0].set_title("per-base tracks, each scaled to its largest absolute value")
    return save_figure(figure, path)
