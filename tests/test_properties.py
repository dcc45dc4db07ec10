"""Properties of the readers and the definition parser, over generated inputs: valid files read back as
written, and anything else is an InputError (never another exception)."""

from __future__ import annotations

import gzip
import re
import string
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from titans.forecasting import read_series
from titans.forecasting.series import TIME_NAMES
from titans.genomics import read_fasta
from titans.pipelines import InputError, load_spec
from titans.pipelines.task import build_task

SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def new_file(tmp_path_factory):
    """A fresh file per example (a function-scoped tmp_path would be shared by every example of a test)."""

    def write(name: str, data: bytes) -> Path:
        path = tmp_path_factory.mktemp("example") / name
        path.write_bytes(data)
        return path

    return write


# FASTA and FASTQ

IDS = st.text(string.ascii_letters + string.digits + "_-.|:", min_size=1, max_size=12)
SEQUENCES = st.text("ACGTUacgtuRYKMSWBDHVNrykn", min_size=1, max_size=80)
LABELS = st.sampled_from(["promoter", "enhancer", "x", "1"])


def _normalised(sequence: str) -> str:
    """The reader's normalisation, stated independently: upper case, U -> T, ambiguity codes -> N."""
    return re.sub("[RYKMSWBDHV]", "N", sequence.upper().replace("U", "T"))


def _wrapped(sequence: str, width: int) -> str:
    return "\n".join(sequence[i : i + width] for i in range(0, len(sequence), width))


@SETTINGS
@given(
    records=st.lists(st.tuples(IDS, SEQUENCES, LABELS), min_size=1, max_size=8, unique_by=lambda r: r[0]),
    width=st.integers(1, 70),
    fastq=st.booleans(),
    compressed=st.booleans(),
)
def test_valid_records_read_back_as_written(new_file, records, width, fastq, compressed):
    if fastq:
        text = "".join(f"@{i} label={label}\n{s}\n+\n{'I' * len(s)}\n" for i, s, label in records)
    else:
        text = "".join(f">{i} some description label={label}\n{_wrapped(s, width)}\n" for i, s, label in records)
    name = ("reads.fq" if fastq else "records.fa") + (".gz" if compressed else "")
    data = gzip.compress(text.encode()) if compressed else text.encode()
    read = read_fasta(new_file(name, data))
    assert [(r.id, r.sequence, r.label) for r in read] == [(i, _normalised(s), label) for i, s, label in records]


FASTA_PIECES = st.sampled_from([">", "@", "+", "\n", " ", "\t", "label=", "a", "ACGT", "Z", "-", "\x00", "é", "\r"])


@SETTINGS
@given(junk=st.binary(max_size=400) | st.lists(FASTA_PIECES, max_size=40).map(lambda p: "".join(p).encode()),
       name=st.sampled_from(["x.fa", "x.fq", "x.fa.gz", "x.fastq"]))  # fmt: skip
def test_junk_sequence_files_raise_input_error_only(new_file, junk, name):
    try:
        read_fasta(new_file(name, junk))
    except InputError as error:
        assert "\n" not in str(error)


@SETTINGS
@given(cut=st.integers(0, 400))
def test_truncated_gzip_raises_input_error_only(new_file, cut):
    whole = gzip.compress("".join(f">r{i} label=a\nACGTACGT\n" for i in range(30)).encode())
    try:
        read_fasta(new_file("x.fa.gz", whole[: min(cut, len(whole) - 1)]))
    except InputError as error:
        assert "\n" not in str(error)


# CSV series

COLUMNS = st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=6), min_size=1, max_size=3, unique=True).filter(
    lambda names: not set(names) & set(TIME_NAMES)
)
VALUES = st.floats(-1e6, 1e6, allow_nan=False, width=32)
STEPS = st.sampled_from([timedelta(minutes=15), timedelta(hours=1), timedelta(days=1), timedelta(days=7)])


@st.composite
def regular_series(draw):
    columns = draw(COLUMNS)
    rows = draw(st.integers(2, 30))
    start = draw(st.datetimes(datetime(1990, 1, 1), datetime(2030, 1, 1))).replace(microsecond=0)
    step = draw(STEPS)
    values = draw(
        st.lists(st.lists(VALUES, min_size=len(columns), max_size=len(columns)), min_size=rows, max_size=rows)
    )
    times = [start + step * i for i in range(rows)]
    return columns, times, values


def _csv(columns, times, values) -> str:
    body = "".join(f"{t:%Y-%m-%d %H:%M:%S}," + ",".join(repr(v) for v in row) + "\n" for t, row in zip(times, values))
    return "date," + ",".join(columns) + "\n" + body


@SETTINGS
@given(series=regular_series())
def test_regular_series_read_back_equal(new_file, series):
    columns, times, values = series
    read = read_series(new_file("s.csv", _csv(columns, times, values).encode()))
    assert read.columns == columns and read.time_column == "date"
    assert np.array_equal(read.values, np.array(values, dtype=np.float32))
    assert np.array_equal(read.timestamps, np.array(times, dtype="datetime64[ns]"))


NASTY_CELLS = st.sampled_from(["1e39", "-1e300", "inf", "NaN", "", "1,5", '"', "\r", "2024-13-45", "0x10", "1_000"])


@SETTINGS
@given(series=regular_series(), junk=NASTY_CELLS | st.text(max_size=12), data=st.data())
def test_corrupted_cells_raise_input_error_only(new_file, series, junk, data):
    """A corrupted cell is an InputError, or is read (a number, or a gap filled by interpolation) as a
    finite float32: never an infinity, never another exception."""
    columns, times, values = series
    lines = _csv(columns, times, values).splitlines()
    row = data.draw(st.integers(0, len(lines) - 1))
    cells = lines[row].split(",")
    cells[data.draw(st.integers(0, len(cells) - 1))] = junk
    lines[row] = ",".join(cells)
    try:
        read = read_series(new_file("s.csv", ("\n".join(lines) + "\n").encode()))
    except InputError as error:
        assert "\n" not in str(error)
    else:
        assert np.isfinite(read.values).all()


# Definitions and --set overrides

KEYS = st.sampled_from(["train.lr", "train.max_epochs", "train.betas", "model.backbone.dim", "model.backbone.name",
                        "data.lookback", "data.path", "data.targets", "evaluate.metrics", "output.dir", "name",
                        "train", "model", "features.patch_length", "nope.deeper", "train.precision", "train..lr", "",
                        " "])  # fmt: skip
YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
).map(repr)
OVERRIDES = st.lists(
    st.tuples(KEYS, YAML_VALUES | st.text(max_size=30)).map("=".join) | st.text(max_size=40), max_size=4
)
PATHS = (
    st.text(string.ascii_lowercase, min_size=1, max_size=12).map(lambda user: f"~{user}/x.csv")  # someone's home
    | st.text("ab", min_size=256, max_size=400)  # longer than a file name may be
    | st.text(max_size=40)
)


@SETTINGS
@given(overrides=OVERRIDES)
def test_random_overrides_raise_spec_errors_only(overrides):
    try:
        build_task(load_spec("forecast-csv", overrides))
    except InputError as error:
        assert "\n" not in str(error)


@SETTINGS
@given(path=PATHS)
def test_any_path_value_is_taken_or_a_spec_error(path):
    try:
        build_task(load_spec("forecast-csv", [f"data.path={path}"]))
    except InputError as error:
        assert "\n" not in str(error)
