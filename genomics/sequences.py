"""Read labelled DNA sequences (Biopython SeqIO) and refuse what would silently mislead.

    records = read_fasta("train.fa")                        # labels from `label=...` in the headers
    records = read_fasta("new.fq.gz", labels="none")        # FASTQ, gzip, unlabelled (prediction)
    records = iter_fasta("huge.fa.gz", labels="none")       # a generator: one record at a time, same checks
    records = read_fasta("train.fa", labels="ids.tsv")      # labels from an id -> label table
    records = read_table("train.csv")                       # a CSV with sequence,label columns
    records = read_class_folders("train/")                  # one subfolder per class (Genomic Benchmarks)

Sequences are normalised: soft-masked lowercase to upper case, RNA's U to T, IUPAC ambiguity codes to N
(or refused, `ambiguous="error"`).  Errors name the file and the record: empty or non-FASTA files,
duplicate ids, missing labels, characters that are not nucleotides.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
from Bio import SeqIO

from titans.pipelines import InputError

AMBIGUOUS = set("RYKMSWBDHVN")
FASTQ_SUFFIXES = (".fq", ".fastq")
LABEL = re.compile(r"(?:^|\s)label=(\S+)")
Ambiguity = Literal["n", "error"]


@dataclass
class Record:
    id: str
    sequence: str
    label: str | None  # multi-label: the label set, sorted and joined by ";"
    where: str = ""  # file and record, for error messages


def normalize(sequence: str, where: str, ambiguous: Ambiguity = "n") -> str:
    """Upper case, U -> T, ambiguity codes -> N (or an error); anything else is an error naming `where`."""
    sequence = sequence.upper().replace("U", "T")
    unknown = set(sequence) - set("ACGT")
    if not unknown:
        return sequence
    invalid = sorted(unknown - AMBIGUOUS)
    if invalid:
        raise InputError(f"{where}: {', '.join(map(repr, invalid))} is not a nucleotide or IUPAC code")
    if ambiguous == "error":
        raise InputError(f"{where}: ambiguity code(s) {', '.join(sorted(unknown))} (set ambiguous: n to map them to N)")
    return re.sub("[RYKMSWBDHV]", "N", sequence)


def _open_text(path: Path):
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8")


def _label_table(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError(f"{path}: no such id,label table")
    separator = "\t" if path.suffix in (".tsv", ".tab") else ","
    try:
        table = pl.read_csv(path, separator=separator, has_header=True, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise InputError(f"{path}: not a readable id,label table ({error.__class__.__name__})") from None
    if table.width < 2:
        raise InputError(f"{path}: needs two columns, id and label")
    ids, labels = table[:, 0].to_list(), table[:, 1].to_list()
    return dict(zip(ids, labels, strict=True))


def iter_fasta(path: str | Path, labels: str | Path = "header", ambiguous: Ambiguity = "n") -> Iterator[Record]:
    """The records of a FASTA/FASTQ file one at a time, checked as they come (read_fasta's rules)."""
    path = Path(path)
    stem = path.name.removesuffix(".gz")
    kind = "fastq" if stem.endswith(FASTQ_SUFFIXES) else "fasta"
    table = None if labels in ("header", "none") else _label_table(Path(labels))
    seen: set[str] = set()
    try:
        with _open_text(path) as handle:
            for number, entry in enumerate(SeqIO.parse(handle, kind), start=1):
                where = f"{path}: record {number} ({entry.id})"
                if entry.id in seen:
                    raise InputError(f"{where}: duplicate id {entry.id!r}")
                seen.add(entry.id)
                label = None
                if labels == "header":
                    found = LABEL.search(entry.description)
                    label = found.group(1) if found else None
                elif table is not None:
                    label = table.get(entry.id)
                if label is None and labels != "none":
                    expected = "label=<name> in the header" if labels == "header" else f"its id in {labels}"
                    raise InputError(f"{where}: no label (expected {expected})")
                if not entry.seq:
                    raise InputError(f"{where}: empty sequence")
                yield Record(entry.id, normalize(str(entry.seq), where, ambiguous), label, where)
    except InputError:
        raise
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x}; a binary file or another encoding)"
        ) from None
    except (EOFError, gzip.BadGzipFile, OSError) as error:
        raise InputError(f"{path}: cannot read as {kind.upper()} ({error.__class__.__name__}: {error})") from None
    except ValueError as error:  # Biopython's parse errors
        reason = " ".join(str(error).split())
        if "comments at the beginning" in reason:
            reason = "text before the first '>' header"
        raise InputError(f"{path}: not valid {kind.upper()} ({reason[:160]})") from None
    if not seen:
        raise InputError(f"{path}: no {kind.upper()} records (empty, or not a {kind.upper()} file)")


def read_fasta(path: str | Path, labels: str | Path = "header", ambiguous: Ambiguity = "n") -> list[Record]:
    """`labels`: "header" (`label=...` in each description), "none", or an id,label CSV/TSV file."""
    return list(iter_fasta(path, labels, ambiguous))


def read_table(path: str | Path, ambiguous: Ambiguity = "n") -> list[Record]:
    """A CSV/TSV with `sequence` and `label` columns (and optionally `id`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    separator = "\t" if path.suffix in (".tsv", ".tab") else ","
    try:
        table = pl.read_csv(path, separator=separator, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable table ({error.__class__.__name__})") from None
    for column in ("sequence", "label"):
        if column not in table.columns:
            raise InputError(f"{path}: no {column!r} column (columns: {', '.join(table.columns)})")
    ids = table["id"].to_list() if "id" in table.columns else [f"row{n}" for n in range(2, table.height + 2)]
    records = []
    for row, (id_, sequence, label) in enumerate(zip(ids, table["sequence"], table["label"]), start=2):
        where = f"{path}: row {row}"
        if not sequence or label is None:
            raise InputError(f"{where}: empty sequence or label")
        records.append(Record(id_, normalize(sequence, where, ambiguous), label, where))
    if not records:
        raise InputError(f"{path}: no data rows")
    return records


def read_class_folders(path: str | Path, ambiguous: Ambiguity = "n") -> list[Record]:
    """One subfolder per class holding FASTA files, or plain text files of one sequence each."""
    path = Path(path)
    classes = sorted(child for child in path.iterdir() if child.is_dir()) if path.is_dir() else []
    if not classes:
        raise InputError(f"{path}: expected a folder with one subfolder per class")
    records = []
    for folder in classes:
        for file in sorted(folder.iterdir()):
            if file.name.removesuffix(".gz").endswith((".fa", ".fasta", ".fna", *FASTQ_SUFFIXES)):
                for record in read_fasta(file, labels="none", ambiguous=ambiguous):
                    records.append(Record(f"{folder.name}/{record.id}", record.sequence, folder.name, record.where))
            elif file.is_file():
                try:
                    text = "".join(file.read_text(encoding="utf-8").split())
                except UnicodeDecodeError:
                    raise InputError(f"{file}: not UTF-8 text (a binary file or another encoding)") from None
                sequence = normalize(text, str(file), ambiguous)
                records.append(Record(f"{folder.name}/{file.stem}", sequence, folder.name, str(file)))
    return records
