"""The genomics pipelines end to end on small settings, and `titans predict` on a FASTA file."""

import json
from pathlib import Path

import polars as pl
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from titans.pipelines import InputError, Pipeline, SpecError, load_spec, lookup
from titans.pipelines.cli import app

SMALL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "train.max_epochs=1"]


@pytest.mark.parametrize("name", ["genomics-demo", "genomics-fasta", "genomics-gue"])
def test_shipped_definitions_validate(name):
    assert load_spec(name).task == "dna-classification"


def test_genomics_demo_learns_the_motif_and_writes_every_output(tmp_path):
    overrides = ["model.backbone.dim=32", "model.backbone.depth=1", "train.max_epochs=4", "data.examples=1200",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("genomics-demo", overrides).run()
    metrics = json.loads((result.output_dir / "metrics.json").read_text())
    assert {"test/accuracy", "test/mcc", "test/f1", "test/auroc", "test/auprc"} <= set(metrics)
    assert metrics["test/accuracy"] > 75, metrics  # chance is 50
    table = pl.read_csv(result.output_dir / "predictions" / "test.csv")
    assert table.columns == ["id", "label", "predicted", "p_background", "p_motif"] and table.height == 120
    assert (result.output_dir / "plots" / "confusion_test.png").is_file()


def test_user_fasta_train_then_predict(tmp_path):
    _two_motif_fasta(tmp_path / "train.fa")
    (tmp_path / "new.fa").write_text(">x\nACGTACGTACGT\n>y\nTTGATTGATTGA\n")
    overrides = [
        *SMALL,
        f"data.train={tmp_path / 'train.fa'}",
        "data.val_fraction=0.25",
        f"output.dir={tmp_path / 'run'}",
    ]
    Pipeline.from_yaml("genomics-fasta", overrides).run()
    arguments = ["predict", "genomics-fasta", "-c", str(tmp_path / "run/checkpoints/best.ckpt"),
                 "-i", str(tmp_path / "new.fa"), "-o", str(tmp_path / "p.csv")]  # fmt: skip
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    predictions = pl.read_csv(tmp_path / "p.csv")
    assert predictions.columns == ["id", "predicted", "p_a", "p_b"] and predictions["id"].to_list() == ["x", "y"]
    explained = CliRunner().invoke(app, ["explain", *arguments[1:6], "-o", str(tmp_path / "why")])
    assert explained.exit_code == 0, explained.output
    track = pl.read_csv(tmp_path / "why" / "tracks.tsv", separator="\t")
    assert track.columns == ["id", "position", "base", "surprise", "saliency"] and track.height == 2 * (12 - 3 + 1)
    assert track["position"].to_list()[:2] == [2, 3] and track["base"].to_list()[:2] == ["G", "T"]
    assert track["saliency"].abs().sum() > 0 and (track["surprise"] >= 0).all()
    for name in ("surprise", "saliency"):
        assert (tmp_path / "why" / f"{name}.bedgraph").read_text().startswith("x\t2\t3\t")
    assert (tmp_path / "why" / "tracks.png").is_file()


def _two_motif_fasta(path: Path, records: int = 80) -> Path:
    lines = [f">s{i} label={'a' if i % 2 else 'b'}\n{('ACGT' if i % 2 else 'TTGA') * 10}\n" for i in range(records)]
    path.write_text("".join(lines))
    return path


def test_training_on_both_strands_fits_the_averaged_prediction(tmp_path):
    train = _two_motif_fasta(tmp_path / "train.fa")
    pipeline = Pipeline.from_yaml("genomics-fasta", [*SMALL, f"data.train={train}", "features.strands=both"])
    splits, task = pipeline.splits, pipeline.task
    model = pipeline.module.model.eval()
    assert [splits.train[0][0].tolist() for _ in range(8)] == [splits.train[0][0].tolist()] * 8  # no strand drawn
    tokens, _, labels, _ = batch = splits.collate([splits.train[i] for i in range(6)])
    loss = task.loss(model, batch)
    assert torch.allclose(loss, task.outputs(model, batch)["loss"].mean())  # the loss inference reports
    one_strand = torch.nn.functional.cross_entropy(model(tokens), labels)
    assert not torch.allclose(loss, one_strand)
    loss.backward()
    assert model.featurizer.embed.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("strands", ["random", "both"])
def test_next_token_loss_adds_the_tied_next_base_cross_entropy(tmp_path, strands):
    lengths = [40, 12, 7, 25] * 10  # padding after the shorter ones in a batch
    records = [f">s{i} label={'ab'[i % 2]}\n{(('ACGT' if i % 2 else 'TTGA') * 10)[:n]}" for i, n in enumerate(lengths)]
    (tmp_path / "train.fa").write_text("\n".join(records) + "\n")
    options = [f"data.train={tmp_path / 'train.fa'}", f"features.strands={strands}", "model.head.next_token=0.5"]
    pipeline = Pipeline.from_yaml("genomics-fasta", [*SMALL, *options])
    splits, task, model = pipeline.splits, pipeline.task, pipeline.module.model.eval()
    batch = splits.collate([splits.train[i] for i in range(4)])
    tokens, reverse, labels, _ = batch
    read = torch.cat([tokens, reverse]) if strands == "both" else tokens
    real = (read != 0).sum(1)
    assert real.unique().numel() > 1  # the batch holds sequences of several lengths

    # by hand: each real token after the first, predicted from the output one position earlier (the tied embedding)
    h, _ = model.backbone(model.featurizer(read))
    logits = h @ model.featurizer.embed.weight.T  # [B, T, vocabulary]
    terms = [
        -logits[row, position - 1].log_softmax(-1)[read[row, position]]
        for row in range(len(read))
        for position in range(1, int(real[row]))
    ]
    if strands == "both":  # the averaged prediction's loss, as inference reports it
        expected = task.outputs(model, batch)["loss"].mean()
    else:
        expected = F.cross_entropy(model(tokens), labels)
    loss = task.loss(model, batch)
    assert torch.allclose(loss, expected + 0.5 * torch.stack(terms).mean(), atol=1e-6)
    loss.backward()
    assert model.featurizer.embed.weight.grad.abs().sum() > 0
    model.head.next_token = 0.0
    assert torch.allclose(task.loss(model, batch), expected, atol=1e-6)  # weight 0: the classification loss alone


def test_next_token_weight_must_not_be_negative(tmp_path):
    train = _two_motif_fasta(tmp_path / "train.fa")
    pipeline = Pipeline.from_yaml("genomics-fasta", [*SMALL, f"data.train={train}", "model.head.next_token=-1"])
    assert len(pipeline.splits.train) > 0  # the model is built after the data is read
    with pytest.raises(SpecError, match=r"model\.head\.next_token must be a finite number >= 0, got -1"):
        _ = pipeline.module


def test_a_bidirectional_classifier_ignores_padding_and_refuses_the_next_token_loss(tmp_path):
    train = _two_motif_fasta(tmp_path / "train.fa")
    options = [*SMALL, f"data.train={train}", "model.backbone.bidirectional=true"]
    pipeline = Pipeline.from_yaml("genomics-fasta", options)
    collate = pipeline.splits.collate
    model = pipeline.module.model.eval()
    short, long = torch.tensor([[1, 2, 3, 4, 1]]), torch.tensor([[4, 3, 2, 1, 1, 2, 3, 4, 4]])
    with torch.no_grad():
        padded = collate([(short[0], short[0], torch.tensor(0), 0), (long[0], long[0], torch.tensor(1), 1)])[0]
        torch.testing.assert_close(model(padded), torch.cat([model(short), model(long)]), rtol=1e-5, atol=1e-6)
    refused = Pipeline.from_yaml("genomics-fasta", [*options, "model.head.next_token=0.5"])
    assert len(refused.splits.train) > 0
    with pytest.raises(SpecError, match=r"genomics-fasta.*next_token needs a causal backbone"):
        _ = refused.module


def test_one_class_or_unseen_labels_are_errors(tmp_path):
    (tmp_path / "one.fa").write_text("".join(f">s{i} label=a\nACGT\n" for i in range(20)))
    with pytest.raises(InputError, match="single class"):
        Pipeline.from_yaml("genomics-fasta", [*SMALL, f"data.train={tmp_path / 'one.fa'}"]).task.splits()


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "genomics").is_dir(), reason="needs ../shared/data")
def test_gue_reads_the_benchmark_files_and_checks_them(monkeypatch):
    monkeypatch.setenv("TITANS_DATA_DIR", str(SHARED))
    data = lookup("dataset", "gue")(task="prom/prom_core_tata")
    assert (len(data.train), len(data.val), len(data.test)) == (4904, 613, 613)
    assert data.classes == ["negative", "positive"] and len(data.train[0].sequence) == 70
