"""Multi-label DNA classification (`data.multi_label: true`): label sets from headers and tables, their
errors, the metrics and confusion counts, and a tiny run end to end with `titans predict` and `titans evaluate`."""

import json
import random

import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from titans.genomics import metrics, multilabel
from titans.genomics.sequences import Record
from titans.pipelines import InputError, Pipeline, lookup
from titans.pipelines.cli import app

SMALL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "train.max_epochs=12",
         "train.lr=5e-3", "train.batch_size=32", "train.early_stopping_patience=null"]  # fmt: skip
SETS = (("a",), ("b",), ("a", "b"))


def _fasta(count: int, seed: int = 0) -> str:
    """Label a marks a run of A, label b a run of G, on a background of C and T only."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        labels = SETS[i % 3]
        bases = [rng.choice("CT") for _ in range(24)]
        if "a" in labels:
            bases[2:8] = "AAAAAA"
        if "b" in labels:
            bases[14:20] = "GGGGGG"
        lines.append(f">s{i} label={','.join(labels)}\n{''.join(bases)}\n")
    return "".join(lines)


def _write(path, text):
    path.write_text(text)
    return path


def test_label_sets_from_headers_and_tables(tmp_path):
    sequences = lookup("dataset", "sequences")
    fasta = _write(
        tmp_path / "t.fa", ">x label=promoter,enhancer\nACGT\n>y label=enhancer\nACGT\n>z label=tss;tss\nA\n"
    )
    table = _write(tmp_path / "v.csv", 'id,sequence,label\nq,ACGT,"tss,promoter"\nr,ACGT,enhancer;tss\n')
    data = sequences(train=fasta, valid=table, multi_label=True)
    assert data.classes == ["enhancer", "promoter", "tss"]
    assert [r.label for r in data.train] == ["enhancer;promoter", "enhancer", "tss"]
    assert [r.label for r in data.val] == ["promoter;tss", "enhancer;tss"]
    assert sequences(train=fasta, valid=fasta).classes == ["enhancer", "promoter,enhancer", "tss;tss"]  # default


@pytest.mark.parametrize(
    ("files", "options", "where", "message"),
    [
        ({"t.fa": ">x label=a\nAC\n>y label=,\nAC\n"}, {}, "t.fa: record 2 (y)", "empty label set ','"),
        ({"t.fa": ">x label=a\nAC\n>y label=b\nAC\n", "v.csv": "sequence,label\nAC,a\nAC,;\n"}, {"valid": "v.csv"},
         "v.csv: row 3", "empty label set ';'"),
        ({"t.fa": ">x label=a\nAC\n>y label=b\nAC\n", "s.fa": ">p label=a\nAC\n>q label=b,c\nAC\n"},
         {"valid": "t.fa", "test": "s.fa"}, "s.fa: record 2 (q)", "label 'c' never occurs in the training data"),
    ],
)  # fmt: skip
def test_empty_label_sets_and_unseen_labels_name_file_and_record(tmp_path, files, options, where, message):
    for name, text in files.items():
        _write(tmp_path / name, text)
    options = {key: tmp_path / value for key, value in options.items()}
    with pytest.raises(InputError) as error:
        lookup("dataset", "sequences")(train=tmp_path / "t.fa", multi_label=True, **options)
    assert str(error.value).startswith(str(tmp_path / where)) and message in str(error.value)
    assert "\n" not in str(error.value)


def _label_set_records(sets: dict[str, int]) -> str:
    """FASTA text with `count` records of each label set (labels joined by ",")."""
    names = [labels for labels, count in sets.items() for _ in range(count)]
    return "".join(f">r{i} label={labels}\nACGT\n" for i, labels in enumerate(names))


def test_hold_out_of_label_sets_is_stratified_by_the_rarest_class(tmp_path):
    """80 records of a, 10 of a,b and 10 of c; a fifth held out must take 2 of each rare class in every seed
    (a random draw of 20 from 100 takes exactly 2 of 10 with probability 0.32 a seed)."""
    fasta = _write(tmp_path / "t.fa", _label_set_records({"a": 80, "a,b": 10, "c": 10}))
    for seed in range(5):
        data = lookup("dataset", "sequences")(train=fasta, multi_label=True, val_fraction=0.2, seed=seed)
        held = [r.label for r in data.val]
        assert len(held) == 20 and len(data.train) == 80
        assert (held.count("a;b"), held.count("c")) == (2, 2)


def test_hold_out_of_label_sets_keeps_every_class_in_training(tmp_path):
    """A class that one record carries (z), and a class whose two records could both be drawn (y, each
    record's rarest class being another), stay in training whatever the seed: no validation label is unseen."""
    sets = {"a": 30, "b": 30, "a,z": 1, "a,p,y": 1, "b,q,y": 1, "p": 1, "q": 1}
    fasta = _write(tmp_path / "t.fa", _label_set_records(sets))
    for seed in range(20):
        data = lookup("dataset", "sequences")(train=fasta, multi_label=True, val_fraction=0.5, seed=seed)
        trained = {name for r in data.train for name in r.label.split(";")}
        assert "z" in trained and all(set(r.label.split(";")) <= trained for r in data.val)
        assert len(data.train) + len(data.val) == 65


def test_strata_pool_the_classes_of_one_record():
    def strata(labels):
        return multilabel.strata([Record(f"r{i}", "ACGT", label, "t.fa") for i, label in enumerate(labels)])

    # rarest classes (ties by name): x;y -> x and d;e -> d are the only records of their strata: pooled ("")
    labels = ["a", "a", "a", "b;x", "b;y", "x;y", "c;d", "c;e", "d;e"]
    assert strata(labels) == ["a", "a", "a", "b", "b", "", "c", "c", ""]
    # z is carried by one record, which stays in training (None); m (b;m -> b) is a stratum of one record, and
    # alone in the pool, so it joins the largest stratum
    assert strata(["a", "a", "a", "a;z", "m", "b;m", "b"]) == ["a", "a", "a", None, "a", "b", "b"]


def test_multi_label_metrics():
    probabilities = torch.tensor([[0.9, 0.8, 0.1], [0.7, 0.2, 0.4], [0.1, 0.6, 0.3], [0.2, 0.3, 0.9]])
    truth = torch.tensor([[1.0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]])  # [N, K]
    outputs = {"probabilities": probabilities, "label": truth}
    # predicted sets {0,1}, {0}, {1}, {2}: rows 0 and 1 exactly right
    assert metrics.accuracy(outputs) == pytest.approx(50)
    # per class (tp, fp, fn): (2, 0, 0), (1, 1, 1), (1, 0, 1) -> F1 1, 1/2, 2/3
    assert metrics.f1(outputs) == pytest.approx(100 * (1 + 1 / 2 + 2 / 3) / 3)
    assert multilabel.f1(outputs, "micro") == pytest.approx(100 * 8 / 11)  # tp 4, fp 1, fn 2
    assert metrics.mcc(outputs) == pytest.approx(100 * (1 + 0 + 2 / 12**0.5) / 3)
    assert metrics.auroc(outputs) == pytest.approx(100 * (1 + 0.75 + 0.75) / 3)
    outputs["label"] = torch.tensor([[1.0, 1, 0], [1, 1, 0], [0, 1, 1], [0, 1, 1]])  # class 1 always present
    assert metrics.auroc(outputs) == pytest.approx(100 * (1 + 0.75) / 2)  # undefined for class 1: left out


def test_multi_label_confusion_counts():
    probabilities = torch.tensor([[0.9, 0.8, 0.1], [0.7, 0.2, 0.4], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5]])
    truth = torch.tensor([[1.0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]])  # [N, K]
    counts = multilabel.confusion_counts({"probabilities": probabilities, "label": truth})
    # class 0: truth 1100, predicted 1100; class 1: truth 1001, predicted 1010; class 2: truth 0011,
    # predicted 0001 (0.5 counts as predicted); each [[tn, fp], [fn, tp]]
    assert counts.tolist() == [[[2, 0], [0, 2]], [[1, 1], [1, 1]], [[2, 0], [1, 1]]]


def test_multi_label_run_predict_and_evaluate(tmp_path):
    _write(tmp_path / "train.fa", _fasta(150))
    _write(tmp_path / "test.fa", _fasta(30, seed=1))
    overrides = [*SMALL, f"data.train={tmp_path / 'train.fa'}", f"data.test={tmp_path / 'test.fa'}",
                 "data.multi_label=true", f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("genomics-fasta", overrides).run()
    found = json.loads((result.output_dir / "metrics.json").read_text())
    keys = {"loss", "accuracy", "mcc", "f1", "f1_micro", "auroc", "auprc"}
    assert {f"{split}/{key}" for split in ("val", "test") for key in keys} <= set(found)
    assert found["test/auroc"] > 95 and found["test/mcc"] > 60, found  # chance: 50 and 0
    table = pl.read_csv(result.output_dir / "predictions" / "test.csv")
    assert table.columns == ["id", "label", "predicted", "p_a", "p_b"]
    assert table["label"][:3].to_list() == ["a", "b", "a;b"]
    assert (result.output_dir / "plots" / "confusion_test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    checkpoint = str(tmp_path / "run" / "checkpoints" / "best.ckpt")
    arguments = ["predict", "genomics-fasta", "-c", checkpoint, "-i", str(tmp_path / "test.fa"),
                 "-o", str(tmp_path / "p.csv")]  # fmt: skip
    predicted = CliRunner().invoke(app, arguments)
    assert predicted.exit_code == 0, predicted.output
    new = pl.read_csv(tmp_path / "p.csv")
    assert new.columns == ["id", "predicted", "p_a", "p_b"] and new.height == 30
    assert new["p_a"].to_list() == pytest.approx(table["p_a"].to_list(), abs=1e-6)
    expected = [
        ";".join(name for name, p in (("a", a), ("b", b)) if p >= 0.5) for a, b in new.select("p_a", "p_b").rows()
    ]
    assert new["predicted"].fill_null("").to_list() == expected

    single = ["evaluate", "genomics-fasta", "-c", checkpoint, "--set", f"data.train={tmp_path / 'train.fa'}",
              "-o", str(tmp_path / "again")]  # fmt: skip
    refused = CliRunner().invoke(app, single)
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.output
    assert "train.fa: data.multi_label=false, but the checkpoint was trained with multi_label=true" in refused.stderr
