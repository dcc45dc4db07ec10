"""A catalogue of bad inputs to the `titans` command: each case exits with code 2 and prints exactly one
line, `error: ...`, naming what is wrong and where (file, record, row, column or field), without a
traceback and without leaving any file behind.  docs/troubleshooting.md lists every message (tested)."""

from __future__ import annotations

import gzip
import io
import random
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
import torch
import yaml
from typer.testing import CliRunner

from titans.pipelines import Pipeline
from titans.pipelines.cli import app

from .pipelines import tiny_task  # noqa: F401  (registers the tiny task in this process)
from .pipelines.conftest import TINY, titans

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODEL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "model.backbone.window=8",
               "model.backbone.chunk_size=4"]  # fmt: skip
ONE_EPOCH = ["train.max_epochs=1", "train.batch_size=64", "train.warmup_steps=1", "output.plots=false"]


@dataclass(frozen=True)
class Trained:
    """Checkpoints trained briefly, once per module: the tiny task, a forecaster and a DNA classifier."""

    tiny: Path
    forecast: Path
    dna: Path


def _fasta(count: int, labels: tuple[str, ...] = ("a", "b")) -> str:
    return "".join(f">s{i} label={labels[i % len(labels)]}\n{'ACGTTGCA'[i % 4 :]}ACGTAC\n" for i in range(count))


def _hourly(rows: int, columns: tuple[str, ...] = ("a", "b")) -> str:
    times = [f"2024-01-{1 + hour // 24:02d} {hour % 24:02d}:00:00" for hour in range(rows)]
    body = "".join(f"{time}," + ",".join(str((hour * (c + 2)) % 7) for c in range(len(columns))) + "\n"
                   for hour, time in enumerate(times))  # fmt: skip
    return "date," + ",".join(columns) + "\n" + body


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    root = tmp_path_factory.mktemp("trained")
    tiny = {**TINY, "train": {**TINY["train"], "max_epochs": 1}, "output": {"dir": str(root / "tiny")}}
    Pipeline.from_dict(tiny).run()
    (root / "series.csv").write_text(_hourly(120))
    forecast = [f"data.path={root / 'series.csv'}", "data.lookback=16", "data.horizon=4", "features.patch_length=8",
                "features.stride=4", f"output.dir={root / 'forecast'}"]  # fmt: skip
    Pipeline.from_yaml("forecast-csv", [*SMALL_MODEL, *ONE_EPOCH, *forecast]).run()
    (root / "train.fa").write_text(_fasta(40))
    dna = [f"data.train={root / 'train.fa'}", "data.val_fraction=0.25", f"output.dir={root / 'dna'}"]
    Pipeline.from_yaml("genomics-fasta", [*SMALL_MODEL, *ONE_EPOCH, *dna]).run()
    return Trained(*(root / name / "checkpoints" / "best.ckpt" for name in ("tiny", "forecast", "dna")))


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # {tmp}: the case's folder; {tiny}, {forecast}, {dna}: the trained checkpoints
    message: str  # the message's fixed part, as docs/troubleshooting.md lists it
    where: str = ""  # what the line must name besides: file, record, row, column or field
    files: dict = field(default_factory=dict)  # name -> text, bytes, or a function of Trained returning bytes


def run_dna(train: str, *overrides: str) -> tuple[str, ...]:
    sets = [item for override in (f"data.train={train}", *overrides) for item in ("--set", override)]
    return ("run", "genomics-fasta", *sets, "--output", "{tmp}/run")


def run_forecast(path: str, *overrides: str) -> tuple[str, ...]:
    sets = [item for override in (f"data.path={path}", *overrides) for item in ("--set", override)]
    return ("run", "forecast-csv", *sets, "--output", "{tmp}/run")


def run_text(path: str) -> tuple[str, ...]:
    data = f"data={{{{name: text, path: {path}, block_size: 16}}}}"  # braces doubled for str.format
    return ("run", "language-demo", "--set", data, "-o", "{tmp}/run")


def predict(definition: str, checkpoint: str, input_file: str) -> tuple[str, ...]:
    return ("predict", definition, "-c", checkpoint, "-i", input_file, "-o", "{tmp}/predictions.csv")


GOOD_FASTA = _fasta(20)

FASTA_CASES = [
    Case("fasta-truncated-gzip", run_dna("{tmp}/t.fa.gz"), "cannot read as FASTA (EOFError", "{tmp}/t.fa.gz",
         {"t.fa.gz": gzip.compress(GOOD_FASTA.encode(), mtime=0)[:60]}),
    Case("fasta-not-gzip", run_dna("{tmp}/t.fa.gz"), "cannot read as FASTA (BadGzipFile", "{tmp}/t.fa.gz",
         {"t.fa.gz": GOOD_FASTA}),
    Case("fasta-binary-junk", run_dna("{tmp}/t.fa"), "not UTF-8 text (byte ", "{tmp}/t.fa: not UTF-8 text (byte 0x80",
         {"t.fa": bytes(range(256)) * 8}),
    Case("fasta-latin-1", run_dna("{tmp}/t.fa"), "not UTF-8 text (byte ", "{tmp}/t.fa: not UTF-8 text (byte 0xe9",
         {"t.fa": ">s1 label=café\nACGT\n".encode("latin-1")}),
    Case("fasta-utf-16", run_dna("{tmp}/t.fa"), "not UTF-8 text (byte ", "{tmp}/t.fa: not UTF-8 text (byte 0xff",
         {"t.fa": GOOD_FASTA.encode("utf-16")}),
    Case("fasta-both-strands-without-reverse-complement",
         run_dna("{tmp}/t.fa", "features.strands=both", "features.reverse_complement=false"),
         "features.strands=both trains on the reverse complement", "features.reverse_complement=false",
         {"t.fa": GOOD_FASTA}),
    Case("fasta-empty", run_dna("{tmp}/t.fa"), "no FASTA records (empty, or not a FASTA file)", "{tmp}/t.fa",
         {"t.fa": ""}),
    Case("fasta-plain-text", run_dna("{tmp}/t.fa"), "not valid FASTA (text before the first '>' header)", "{tmp}/t.fa",
         {"t.fa": "hello\nworld\n"}),
    Case("fasta-headers-only", run_dna("{tmp}/t.fa"), "empty sequence", "{tmp}/t.fa: record 1 (a)",
         {"t.fa": ">a label=x\n>b label=y\n"}),
    Case("fasta-duplicate-id", run_dna("{tmp}/t.fa"), "duplicate id", "{tmp}/t.fa: record 2 (a)",
         {"t.fa": ">a label=x\nACGT\n>a label=y\nACGT\n"}),
    Case("fasta-missing-label", run_dna("{tmp}/t.fa"), "no label (expected label=<name> in the header)",
         "{tmp}/t.fa: record 2 (b)", {"t.fa": ">a label=x\nACGT\n>b\nACGT\n"}),
    Case("fasta-label-table-absent", run_dna("{tmp}/t.fa", "data.labels={tmp}/ids.tsv"), "no such id,label table",
         "{tmp}/ids.tsv", {"t.fa": GOOD_FASTA}),
    Case("fasta-id-not-in-table", run_dna("{tmp}/t.fa", "data.labels={tmp}/ids.tsv"), "no label (expected its id in",
         "{tmp}/t.fa: record 2 (b)", {"t.fa": ">a\nACGT\n>b\nACGT\n", "ids.tsv": "id\tlabel\na\tx\n"}),
    Case("fasta-single-class", run_dna("{tmp}/t.fa"), "the training data has a single class", "{tmp}/t.fa",
         {"t.fa": _fasta(20, ("a",))}),
    Case("fasta-class-too-small", run_dna("{tmp}/t.fa"), "cannot hold out val_fraction", "{tmp}/t.fa",
         {"t.fa": _fasta(10, ("a",)) + ">z label=b\nACGT\n"}),
    Case("fasta-label-sets-all-unique", run_dna("{tmp}/t.fa", "data.multi_label=true"),
         "cannot hold out val_fraction=", "{tmp}/t.fa",
         {"t.fa": ">a label=x,p\nACGT\n>b label=x,q\nACGT\n>c label=x,r\nACGT\n"}),
    Case("fasta-invalid-characters", run_dna("{tmp}/t.fa"), "is not a nucleotide or IUPAC code",
         "{tmp}/t.fa: record 1 (a): 'Z'", {"t.fa": ">a label=x\nACGZ\n>b label=y\nACGT\n"}),
    Case("fasta-ambiguity-refused", run_dna("{tmp}/t.fa", "data.ambiguous=error"), "ambiguity code(s)",
         "{tmp}/t.fa: record 1 (a)", {"t.fa": ">a label=x\nACGR\n>b label=y\nACGT\n"}),
    Case("fasta-unseen-test-label", run_dna("{tmp}/t.fa", "data.test={tmp}/test.fa"),
         "that the training data does not", "{tmp}/t.fa: test has label(s) ['c']",
         {"t.fa": GOOD_FASTA, "test.fa": ">q label=c\nACGT\n"}),
    Case("fastq-truncated-record", run_dna("{tmp}/t.fq"), "not valid FASTQ (",
         "{tmp}/t.fq: not valid FASTQ (End of file",
         {"t.fq": "@a label=x\nACGT\n+\nIIII\n@b label=y\nACGT\n"}),
    Case("fastq-quality-length", run_dna("{tmp}/t.fq"), "not valid FASTQ (",
         "{tmp}/t.fq: not valid FASTQ (Lengths of sequence and quality values", {"t.fq": "@a label=x\nACGT\n+\nII\n"}),
    Case("sequence-table-without-label", run_dna("{tmp}/t.csv"), "no 'label' column", "{tmp}/t.csv",
         {"t.csv": "sequence,class\nACGT,x\n"}),
    Case("predict-fasta-invalid-characters", predict("genomics-fasta", "{dna}", "{tmp}/new.fa"),
         "is not a nucleotide or IUPAC code", "{tmp}/new.fa: record 2 (y)", {"new.fa": ">x\nACGT\n>y\nAC-GT!\n"}),
    Case("predict-fasta-empty", predict("genomics-fasta", "{dna}", "{tmp}/new.fa"), "no FASTA records",
         "{tmp}/new.fa", {"new.fa": ""}),
    Case("evaluate-other-label-set", ("evaluate", "genomics-fasta", "-c", "{dna}", "--set", "data.train={tmp}/t.fa",
                                      "-o", "{tmp}/run"),
         "are not the checkpoint's", "{tmp}/t.fa: the training data's classes ['c', 'd']",
         {"t.fa": _fasta(20, ("c", "d"))}),
    Case("predict-table-without-sequence", predict("genomics-fasta", "{dna}", "{tmp}/new.csv"), "no 'sequence' column",
         "{tmp}/new.csv: no 'sequence' column (columns: id, seq)", {"new.csv": "id,seq\nx,ACGT\n"}),
    Case("predict-table-invalid-characters", predict("genomics-fasta", "{dna}", "{tmp}/new.csv"),
         "is not a nucleotide or IUPAC code", "{tmp}/new.csv: row 3: '!', '-'",
         {"new.csv": "id,sequence\nx,ACGT\ny,AC-GT!\n"}),
    Case("predict-table-ragged-row", predict("genomics-fasta", "{dna}", "{tmp}/new.tsv"), "fields, but the header has",
         "{tmp}/new.tsv: row 2: 3 fields", {"new.tsv": "id\tsequence\nx\tACGT\tTT\n"}),
    Case("predict-table-duplicate-id", predict("genomics-fasta", "{dna}", "{tmp}/new.csv"), "duplicate id",
         "{tmp}/new.csv: row 3: duplicate id 'x'", {"new.csv": "id,sequence\nx,ACGT\nx,ACGT\n"}),
    Case("predict-unsupported-input", predict("genomics-fasta", "{dna}", "{tmp}/new.txt"),
         "unsupported input for prediction (accepted: ", "{tmp}/new.txt", {"new.txt": ">x\nACGT\n"}),
    Case("predict-folder-duplicate-id", predict("genomics-fasta", "{dna}", "{tmp}"), ", also in ",
         "{tmp}/b.fa: record 1 (x)", {"a.fa": ">x\nACGT\n", "b.fa": ">x\nACGA\n"}),
    Case("predict-table-not-gzip", predict("genomics-fasta", "{dna}", "{tmp}/new.csv.gz"), "not a readable gzip file",
         "{tmp}/new.csv.gz", {"new.csv.gz": "sequence\nACGT\n"}),
    Case("predict-class-folders-without-files", predict("genomics-fasta", "{dna}", "{tmp}/in"),
         "no sequences in its class subfolders", "{tmp}/in: ", {"in/a/more/x.fa": ">x\nACGT\n"}),
]  # fmt: skip


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


TABLE_CASES = [
    Case("csv-empty", run_forecast("{tmp}/s.csv"), "not a readable CSV/Parquet table", "{tmp}/s.csv", {"s.csv": ""}),
    Case("csv-headers-only", run_forecast("{tmp}/s.csv"), "no data rows (header only or empty)", "{tmp}/s.csv",
         {"s.csv": "date,a,b\n"}),
    Case("csv-binary-junk", run_forecast("{tmp}/s.csv"), "not a readable CSV/Parquet table", "{tmp}/s.csv",
         {"s.csv": bytes(range(256)) * 8}),
    Case("csv-ragged-rows", run_forecast("{tmp}/s.csv"), "not a readable CSV/Parquet table", "{tmp}/s.csv",
         {"s.csv": "date,a\n2024-01-01,1,5\n2024-01-02,2\n"}),
    Case("csv-nan-everywhere", run_forecast("{tmp}/s.csv"), "all values missing", "{tmp}/s.csv: column 'b'",
         {"s.csv": "date,a,b\n2024-01-01,1,NaN\n2024-01-02,2,NaN\n"}),
    Case("csv-missing-value-refused", run_forecast("{tmp}/s.csv", "data.missing=error"), "a missing value",
         "{tmp}/s.csv: row 3, column 'a'", {"s.csv": "date,a\n2024-01-01,1\n2024-01-02,\n2024-01-03,3\n"}),
    Case("csv-infinity", run_forecast("{tmp}/s.csv"), "infinite value", "{tmp}/s.csv: row 3, column 'a'",
         {"s.csv": "date,a\n2024-01-01,1\n2024-01-02,-inf\n"}),
    Case("csv-non-numeric-column", run_forecast("{tmp}/s.csv"), "is not a number", "{tmp}/s.csv: row 3, column 'a'",
         {"s.csv": "date,a\n2024-01-01,1\n2024-01-02,high\n"}),
    Case("csv-mixed-types", run_forecast("{tmp}/s.csv"), "is not a number", "{tmp}/s.csv: row 4, column 'a': 'true'",
         {"s.csv": "date,a\n2024-01-01,1\n2024-01-02,2.5\n2024-01-03,true\n"}),
    Case("csv-time-column-only", run_forecast("{tmp}/s.csv"), "no value columns besides the time column",
         "{tmp}/s.csv", {"s.csv": "date\n2024-01-01\n2024-01-02\n"}),
    Case("csv-unknown-target", run_forecast("{tmp}/s.csv", "data.targets=[c]"), "among the targets",
         "{tmp}/s.csv", {"s.csv": _hourly(10)}),
    Case("csv-duplicate-timestamp", run_forecast("{tmp}/s.csv"), "duplicate timestamp",
         "{tmp}/s.csv: row 3, column 'date'", {"s.csv": "date,a\n2024-01-01,1\n2024-01-01,2\n"}),
    Case("csv-unparsable-timestamp", run_forecast("{tmp}/s.csv"), "as a timestamp",
         "{tmp}/s.csv: row 3, column 'date': cannot read '31/02/2024'",
         {"s.csv": "date,a\n2024-01-01,1\n31/02/2024,2\n"}),
    Case("csv-out-of-order", run_forecast("{tmp}/s.csv"), "is earlier than the row above",
         "{tmp}/s.csv: row 3, column 'date'", {"s.csv": "date,a\n2024-01-02,1\n2024-01-01,2\n"}),
    Case("csv-irregular-spacing", run_forecast("{tmp}/s.csv"), "irregular spacing", "{tmp}/s.csv: row 4, column 'date'",
         {"s.csv": "date,a\n2024-01-01,1\n2024-01-02,2\n2024-01-04,3\n2024-01-05,4\n"}),
    Case("csv-single-row", run_forecast("{tmp}/s.csv"), "is too short for lookback", "{tmp}/s.csv: the train split",
         {"s.csv": "date,a\n2024-01-01,1\n"}),
    Case("csv-too-short", run_forecast("{tmp}/s.csv"), "is too short for lookback", "{tmp}/s.csv: the train split",
         {"s.csv": _hourly(40)}),
    Case("csv-no-such-file", run_forecast("{tmp}/absent.csv"), "no such file", "{tmp}/absent.csv"),
    Case("parquet-random-bytes", run_forecast("{tmp}/s.parquet"), "not a readable CSV/Parquet table",
         "{tmp}/s.parquet", {"s.parquet": b"PAR1" + bytes(300)}),
    Case("parquet-no-rows", run_forecast("{tmp}/s.parquet"), "no data rows", "{tmp}/s.parquet",
         {"s.parquet": _parquet(pl.DataFrame(schema={"date": pl.Datetime, "a": pl.Float64}))}),
    Case("predict-csv-missing-column", predict("forecast-csv", "{forecast}", "{tmp}/recent.csv"), "among the targets",
         "{tmp}/recent.csv: no column 'b'", {"recent.csv": _hourly(30, ("a",))}),
    Case("predict-csv-too-short", predict("forecast-csv", "{forecast}", "{tmp}/recent.csv"),
         "fewer than the model's lookback", "{tmp}/recent.csv: 5 rows", {"recent.csv": _hourly(5)}),
    Case("csv-unknown-known-covariate", run_forecast("{tmp}/s.csv", "data.known_covariates=[c]"),
         "among the known covariates", "{tmp}/s.csv: no column 'c'", {"s.csv": _hourly(120)}),
    Case("csv-known-covariate-is-target",
         run_forecast("{tmp}/s.csv", "data.targets=[a,b]", "data.known_covariates=[b]"),
         "is both a target and a known covariate", "{tmp}/s.csv: column 'b'", {"s.csv": _hourly(120)}),
    Case("csv-known-covariate-twice", run_forecast("{tmp}/s.csv", "data.known_covariates=[b,b]"),
         "is listed twice among the known covariates", "{tmp}/s.csv: column 'b'", {"s.csv": _hourly(120)}),
    Case("csv-known-covariate-also-covariate",
         run_forecast("{tmp}/s.csv", "data.covariates=[b]", "data.known_covariates=[b]"),
         "is both a covariate and a known covariate", "{tmp}/s.csv: column 'b'", {"s.csv": _hourly(120)}),
    Case("csv-known-covariate-not-a-number", run_forecast("{tmp}/s.csv", "data.known_covariates=[b]"),
         "is not a number", "{tmp}/s.csv: row 3, column 'b': 'high'",
         {"s.csv": "date,a,b\n2024-01-01 00:00:00,1,2\n2024-01-01 01:00:00,2,high\n"}),
    Case("csv-known-covariate-missing-in-future", run_forecast("{tmp}/s.csv", "data.known_covariates=[b]"),
         "a missing value after the last observation", "{tmp}/s.csv: row 122, column 'b'",
         {"s.csv": _hourly(120) + "2024-01-06 00:00:00,,\n"}),
]  # fmt: skip

TEXT_CASES = [
    Case("text-empty", run_text("{tmp}/t.txt"), "no text", "{tmp}/t.txt", {"t.txt": ""}),
    Case("text-whitespace", run_text("{tmp}/t.txt"), "no text", "{tmp}/t.txt", {"t.txt": " \n\t\n"}),
    Case("text-binary", run_text("{tmp}/t.txt"), "not UTF-8 text at byte", "{tmp}/t.txt",
         {"t.txt": bytes(range(256)) * 4}),
    Case("text-truncated-gzip", run_text("{tmp}/t.txt.gz"), "cannot read (EOFError", "{tmp}/t.txt.gz",
         {"t.txt.gz": gzip.compress(b"to be or not to be " * 100, mtime=0)[:30]}),
    Case("text-shorter-than-a-block", run_text("{tmp}/t.txt"), "fewer than data.block_size + 1",
         "{tmp}/t.txt: the training text has", {"t.txt": "hello world"}),
]  # fmt: skip

GOOD_YAML = yaml.safe_dump({"name": "x", "task": "forecasting", "data": {"name": "demo"}})

DEFINITION_CASES = [
    Case("yaml-syntax", ("validate", "{tmp}/p.yaml"), "not valid YAML (", "{tmp}/p.yaml:2", {"p.yaml": "name: [x\n"}),
    Case("yaml-tab-indent", ("validate", "{tmp}/p.yaml"), "not valid YAML (",
         "{tmp}/p.yaml:2: not valid YAML (found character",
         {"p.yaml": "name: x\n\ttask: forecasting\n"}),
    Case("yaml-binary", ("validate", "{tmp}/p.yaml"), "not UTF-8 text at byte",
         "{tmp}/p.yaml: not UTF-8 text at byte 0",
         {"p.yaml": b"\xff\xfe\x00n\x00"}),
    Case("yaml-empty", ("validate", "{tmp}/p.yaml"), "must be a mapping of sections, got an empty file",
         "{tmp}/p.yaml", {"p.yaml": ""}),
    Case("yaml-a-list", ("validate", "{tmp}/p.yaml"), "a pipeline definition must be a mapping of sections, got ",
         "{tmp}/p.yaml: a pipeline definition must be a mapping of sections, got a list",
         {"p.yaml": "- name\n- task\n"}),
    Case("yaml-duplicate-key", ("validate", "{tmp}/p.yaml"), "not valid YAML (duplicate key", "{tmp}/p.yaml:5",
         {"p.yaml": GOOD_YAML + "name: y\n"}),
    Case("yaml-wrong-type", ("validate", "{tmp}/p.yaml"), "Input should be a valid integer",
         "{tmp}/p.yaml: train.max_epochs", {"p.yaml": GOOD_YAML + "train: {max_epochs: ten}\n"}),
    Case("yaml-section-not-mapping", ("validate", "{tmp}/p.yaml"), "Input should be a valid dictionary",
         "{tmp}/p.yaml: train", {"p.yaml": GOOD_YAML + "train: 5\n"}),
    Case("yaml-unknown-key", ("validate", "{tmp}/p.yaml"), "unknown key; did you mean", "{tmp}/p.yaml: modle",
         {"p.yaml": GOOD_YAML + "modle: {}\n"}),
    Case("yaml-missing-field", ("validate", "{tmp}/p.yaml"), "Field required", "{tmp}/p.yaml: task",
         {"p.yaml": "name: x\ndata: {name: demo}\n"}),
    Case("yaml-unknown-task", ("validate", "{tmp}/p.yaml"), "unknown task",
         "{tmp}/p.yaml: task: unknown task 'forcasting'",
         {"p.yaml": GOOD_YAML.replace("forecasting", "forcasting")}),
    Case("yaml-bad-backbone-option", ("validate", "{tmp}/p.yaml"), "must be >= 1", "{tmp}/p.yaml: model.backbone",
         {"p.yaml": GOOD_YAML + "model: {backbone: {name: mag, dim: 0}}\n"}),
    Case("yaml-extends-loop", ("validate", "{tmp}/a.yaml"), "extends: loops back to itself",
         "a.yaml -> b.yaml -> a.yaml", {"a.yaml": "extends: b.yaml\nname: a\n", "b.yaml": "extends: a.yaml\n"}),
    Case("yaml-extends-absent", ("validate", "{tmp}/p.yaml"), "no such pipeline definition file",
         "{tmp}/p.yaml: extends: nowhere.yaml", {"p.yaml": "extends: nowhere.yaml\n"}),
    Case("yaml-extends-not-a-name", ("validate", "{tmp}/p.yaml"), "extends: expected a YAML file or a shipped pipeline",
         "{tmp}/p.yaml", {"p.yaml": GOOD_YAML + "extends: 7\n"}),
]  # fmt: skip

OVERRIDE_CASES = [
    Case("set-empty-key", ("validate", "forecast-demo", "--set", "=3"), "expected key=value", "--set '=3'"),
    Case("set-empty-key-part", ("validate", "forecast-demo", "--set", "train..lr=1"), "has an empty part",
         "--set 'train..lr=1'"),
    Case("set-value-not-yaml", ("validate", "forecast-demo", "--set", "train.lr=[1,"), "the value is not valid YAML",
         "--set 'train.lr=[1,'"),
    Case("set-into-a-value", ("validate", "forecast-demo", "--set", "name.x=1"), "is not a section",
         "--set 'name.x=1': name"),
    Case("set-out-of-range", ("validate", "forecast-demo", "--set", "train.batch_size=-1"),
         "Input should be greater than 0", "forecast-demo.yaml: train.batch_size"),
    Case("set-clock-without-budget", ("validate", "forecast-demo", "--set", "train.schedule_over_minutes=true"),
         "schedule_over_minutes is true but max_minutes, the budget it spans, is not set", "forecast-demo.yaml: train"),
    Case("set-unknown-dataset", ("validate", "forecast-demo", "--set", "data.name=nope"), "unknown dataset",
         "forecast-demo.yaml: data: unknown dataset 'nope'"),
    Case("set-unknown-option", ("validate", "forecast-demo", "--set", "data.lenght=5"), "unknown option",
         "forecast-demo.yaml: data: lenght"),
    Case("set-section-to-scalar", ("validate", "forecast-demo", "--set", "model.backbone=mag"),
         "Input should be a valid dictionary", "forecast-demo.yaml: model.backbone"),
]  # fmt: skip

ARGUMENT_CASES = [
    Case("cli-unknown-pipeline", ("run", "forcast-demo"), "is neither a YAML file nor a shipped pipeline",
         "'forcast-demo'"),
    Case("cli-missing-argument", ("run",), "Missing argument", "run"),
    Case("cli-missing-option", ("predict", "forecast-csv", "-i", "x.csv", "-o", "y.csv"), "Missing option",
         "'--checkpoint'"),
    Case("cli-unknown-option", ("run", "forecast-demo", "--outptu", "x"), "No such option", "--outptu"),
    Case("cli-bad-number", ("generate", "{tiny}", "--max-tokens", "0"), "Invalid value for", "'--max-tokens'"),
    Case("cli-unknown-command", ("rnu", "forecast-demo"), "No such command", "'rnu'"),
    Case("cli-predict-input-absent", predict("forecast-csv", "{forecast}", "{tmp}/absent.csv"), "no such input file",
         "{tmp}/absent.csv"),
    Case("cli-resume-without-run", ("run", "forecast-demo", "--resume", "-o", "{tmp}/run"), "nothing to resume from",
         "{tmp}/run/checkpoints/last.ckpt"),
    Case("cli-explain-without-tracks", ("explain", "{tmp}/tiny.yaml", "-c", "{tiny}", "-i", "{tmp}/x.csv", "-o",
                                        "{tmp}/why"),
         "has no explanation tracks yet", "{tmp}/tiny.yaml: task 'tiny-regression'",
         {"tiny.yaml": yaml.safe_dump(TINY), "x.csv": "1,2\n"}),
    Case("cli-generate-not-a-language-model", ("generate", "{tiny}"), "generate needs a language model", "{tiny}"),
]  # fmt: skip


def _truncated(trained: Trained) -> bytes:
    whole = trained.tiny.read_bytes()
    return whole[: len(whole) // 2]


def _bit_flipped(trained: Trained) -> bytes:
    """The tiny checkpoint with one bit of its first weight tensor flipped (torch.load alone would not notice)."""
    data = bytearray(trained.tiny.read_bytes())
    with zipfile.ZipFile(trained.tiny) as archive:
        member = next(info for info in archive.infolist() if "/data/" in info.filename)
    name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26 : member.header_offset + 30])
    data[member.header_offset + 30 + name_length + extra_length] ^= 1
    return bytes(data)


def _saved(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


class _RunsCode:
    def __reduce__(self):
        return (print, ("this runs on load",))


def _edited(edit):
    """The tiny checkpoint, changed by edit(checkpoint) and saved again."""

    def make(trained: Trained) -> bytes:
        checkpoint = torch.load(trained.tiny, weights_only=True)
        edit(checkpoint)
        return _saved(checkpoint)

    return make


def _shrink_weights(checkpoint):
    checkpoint["state_dict"] = {name: value[:1] for name, value in checkpoint["state_dict"].items()}


def _drop_a_weight(checkpoint):
    checkpoint["state_dict"].pop(next(iter(checkpoint["state_dict"])))


def _drop_the_spec(checkpoint):
    del checkpoint["titans"]["spec"]


def _break_the_spec(checkpoint):
    checkpoint["titans"]["spec"]["train"]["lrr"] = 1


PREDICT_TINY = predict("{tmp}/tiny.yaml", "{tmp}/c.ckpt", "{tmp}/x.csv")
TINY_FILES = {"tiny.yaml": yaml.safe_dump(TINY), "x.csv": "1,2,3\n"}

CHECKPOINT_CASES = [
    Case("ckpt-absent", predict("{tmp}/tiny.yaml", "{tmp}/absent.ckpt", "{tmp}/x.csv"), "no such checkpoint file",
         "{tmp}/absent.ckpt", TINY_FILES),
    Case("ckpt-a-folder-not-an-export", predict("{tmp}/tiny.yaml", "{tmp}", "{tmp}/x.csv"),
         "no such file (an exported model folder holds model.safetensors and config.json)", "{tmp}/config.json",
         TINY_FILES),
    Case("ckpt-truncated", PREDICT_TINY, "not a readable titans checkpoint (truncated, corrupted or another format",
         "{tmp}/c.ckpt", {**TINY_FILES, "c.ckpt": _truncated}),
    Case("ckpt-bit-flipped", PREDICT_TINY, "corrupted, the checksum of its part", "{tmp}/c.ckpt: corrupted",
         {**TINY_FILES, "c.ckpt": _bit_flipped}),
    Case("ckpt-random-bytes", PREDICT_TINY, "not a readable titans checkpoint", "{tmp}/c.ckpt",
         {**TINY_FILES, "c.ckpt": random.Random(0).randbytes(4096)}),
    Case("ckpt-empty", PREDICT_TINY, "not a readable titans checkpoint", "{tmp}/c.ckpt", {**TINY_FILES, "c.ckpt": b""}),
    Case("ckpt-runs-code", PREDICT_TINY, "refused, loading it would run code", "{tmp}/c.ckpt: refused",
         {**TINY_FILES, "c.ckpt": _saved({"titans": _RunsCode(), "state_dict": {}})}),
    Case("ckpt-not-titans", PREDICT_TINY, "not a titans checkpoint (no pipeline definition inside)", "{tmp}/c.ckpt",
         {**TINY_FILES, "c.ckpt": _saved({"weights": torch.zeros(2)})}),
    Case("ckpt-damaged", PREDICT_TINY, "a damaged titans checkpoint", "{tmp}/c.ckpt: a damaged titans checkpoint "
         "(titans.spec", {**TINY_FILES, "c.ckpt": _edited(_drop_the_spec)}),
    Case("ckpt-definition-invalid", ("generate", "{tmp}/c.ckpt"), "unknown key; did you mean",
         "{tmp}/c.ckpt: train.lrr", {"c.ckpt": _edited(_break_the_spec)}),
    Case("ckpt-of-another-task", predict("forecast-csv", "{tiny}", "{tmp}/x.csv"), "a checkpoint of task",
         "{tiny}: a checkpoint of task 'tiny-regression', not 'forecasting'", {"x.csv": "1\n"}),
    Case("ckpt-weights-do-not-fit", PREDICT_TINY, "its weights do not fit this definition's model",
         "{tmp}/c.ckpt: its weights do not fit this definition's model (size mismatch for model.",
         {**TINY_FILES, "c.ckpt": _edited(_shrink_weights)}),
    Case("ckpt-weight-missing", PREDICT_TINY, "its weights do not fit this definition's model",
         "{tmp}/c.ckpt: its weights do not fit this definition's model (Missing key(s)",
         {**TINY_FILES, "c.ckpt": _edited(_drop_a_weight)}),
    Case("export-truncated-checkpoint", ("export", "{tmp}/c.ckpt", "-o", "{tmp}/shared"),
         "not a readable titans checkpoint", "{tmp}/c.ckpt", {"c.ckpt": _truncated}),
]  # fmt: skip

CATALOGUE = {
    "sequences": FASTA_CASES,
    "tables": TABLE_CASES,
    "text": TEXT_CASES,
    "definitions": DEFINITION_CASES,
    "overrides": OVERRIDE_CASES,
    "arguments": ARGUMENT_CASES,
    "checkpoints": CHECKPOINT_CASES,
}
ALL_CASES = [case for cases in CATALOGUE.values() for case in cases]


def _files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def _prepare(case: Case, folder: Path, trained: Trained) -> dict[str, str]:
    for name, content in case.files.items():
        content = content(trained) if callable(content) else content
        data = content.encode() if isinstance(content, str) else content
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return {"tmp": str(folder), "tiny": str(trained.tiny), "forecast": str(trained.forecast), "dna": str(trained.dna)}


def _check_one_error_line(stderr: str, case: Case, names: dict[str, str]) -> None:
    assert "Traceback" not in stderr, stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: ") and case.message in line, line
    assert case.where.format(**names) in line, line


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_bad_input_is_one_error_line_and_exit_code_2(case, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything written by mistake would land here and be seen
    names = _prepare(case, tmp_path, trained)
    before = _files_under(tmp_path)
    result = CliRunner().invoke(app, [arg.format(**names) for arg in case.args])
    assert result.exit_code == 2, (result.output, result.exception)
    _check_one_error_line(result.stderr, case, names)
    assert _files_under(tmp_path) == before, "a failed command left files behind"


REAL_PROCESS_CASES = [case for case in ALL_CASES if case.id in ("fasta-binary-junk", "ckpt-truncated")]


@pytest.mark.parametrize("case", REAL_PROCESS_CASES, ids=[case.id for case in REAL_PROCESS_CASES])
def test_a_real_process_prints_one_line_and_exits_2(case, trained, tmp_path):
    names = _prepare(case, tmp_path, trained)
    before = _files_under(tmp_path)
    result = titans(*(arg.format(**names) for arg in case.args))
    assert result.returncode == 2, result.stderr
    _check_one_error_line(result.stderr, case, names)
    assert _files_under(tmp_path) == before


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [case.id for case in ALL_CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)


def test_troubleshooting_lists_every_message():
    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`error: ([^`]*)`", page))
    missing = [case.id for case in ALL_CASES if not any(case.message in message for message in listed)]
    assert not missing, f"docs/troubleshooting.md lacks the messages of {missing}"
