"""Prediction for sequence files of any size in bounded memory: records are read one at a time
(`unlabelled_records`: a FASTA/FASTQ file, a CSV/TSV table, a folder of FASTA/FASTQ files or of one subfolder
per class), predicted a batch at a time, and the rows written as they come into a temporary file beside the
output, renamed into place at the end, so an error half-way leaves no output file.

    count = write_in_batches(unlabelled_records(Path("huge.fa.gz")), Path("predictions.csv"), rows)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from titans.pipelines import InputError
from titans.pipelines.outputs import write_atomic
from titans.pipelines.streams import batched

from .sequences import (
    FASTA_SUFFIXES,
    FASTQ_SUFFIXES,
    TABLE_SUFFIXES,
    Record,
    is_sequence_file,
    is_table_file,
    iter_class_folders,
    iter_fasta,
    iter_fasta_folder,
    iter_table,
)

BATCH = 256


def unlabelled_records(path: Path) -> Iterator[Record]:
    """The records of a file to predict for, read lazily, told apart as training data is (a folder, then a
    table's suffix, then FASTA/FASTQ), labels ignored; any other kind of file is refused at once.  A folder
    is read as a folder of FASTA/FASTQ files when it holds any, else as the training layout of one subfolder
    per class (ids `<class>/<id>`)."""
    if path.is_dir():
        children = list(path.iterdir())
        if any(c.is_dir() for c in children) and not any(c.is_file() and is_sequence_file(c) for c in children):
            return (replace(record, label=None) for record in iter_class_folders(path))
        return iter_fasta_folder(path, labels="none")
    if is_table_file(path):
        return iter_table(path, labels=False)
    if is_sequence_file(path):
        return iter_fasta(path, labels="none")
    sequences, tables = ", ".join(FASTA_SUFFIXES + FASTQ_SUFFIXES), ", ".join(TABLE_SUFFIXES)
    raise InputError(
        f"{path}: unsupported input for prediction (accepted: FASTA/FASTQ {sequences}, plain or .gz; a CSV/TSV "
        f"table {tables}, plain or .gz, with a 'sequence' column; a folder of FASTA/FASTQ files or of one "
        "subfolder per class)"
    )


def _progress() -> Progress:
    """A spinner and a running count of records (their number is unknown until the end); only on a terminal."""
    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.completed:,} records predicted"), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def write_in_batches(records: Iterable[Record], path: Path, rows: Callable[[list[Record]], pl.DataFrame]) -> int:
    """Write `rows(batch)` for every batch of records as one CSV at `path`, atomically; returns the records."""
    count = 0

    def write(temporary: Path) -> None:
        nonlocal count
        with temporary.open("wb") as handle, _progress() as progress:
            task = progress.add_task("predict", total=None)
            for batch in batched(records, BATCH):
                rows(batch).write_csv(handle, include_header=count == 0)
                count += len(batch)
                progress.update(task, advance=len(batch))

    write_atomic(Path(path), write)
    return count
