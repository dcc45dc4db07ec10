"""Read labelled DNA sequences (Biopython SeqIO) and refuse what would silently mislead.

    records = read_fasta("train.fa")                        # labels from `label=...` in the headers
    records = read_fasta("new.fq.gz", labels="none")        # FASTQ, gzip, unlabelled (prediction)
    records = iter_fasta("huge.fa.gz", labels="none")       # a generator: one record at a time, same checks
    records = read_fasta("train.fa", labels="ids.tsv")      # labels from an id -> label table
    records = read_table("train.csv")                       # a CSV with sequence,label columns
    records = iter_table("huge.tsv.gz", labels=False)       # a generator over a table's rows (prediction)
    records = iter_fasta_folder("new/", labels="none")      # every FASTA/FASTQ file of a folder, in name order
    records = read_class_folders("train/")                  # one subfolder per class (Genomic Benchmarks)
    records = iter_class_folders("test/")                   # the same, one record at a time (prediction)

Sequences are normalised: soft-masked lowercase to upper case, RNA's U to T, IUPAC ambiguity codes to N
(or refused, `ambiguous="error"`).  Errors name the file and the record: empty or non-FASTA files,
duplicate ids, missing labels, characters that are not nucleotides.  Tables are read with the csv module,
one row at a time (see iter_table).
"""

from __future__ import annotations

import csv
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
FASTA_SUFFIXES = (".fa", ".fasta", ".fna")
FASTQ_SUFFIXES = (".fq", ".fastq")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
CSV_FIELD_LIMIT = 2**31 - 1  # the csv module's default, 131,072 characters, is shorter than many sequences
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


def _plain_name(path: Path) -> str:
    """The file's name in lower case without a .gz suffix: what tells its kind apart."""
    return path.name.lower().removesuffix(".gz")


def is_sequence_file(path: Path) -> bool:
    """A FASTA/FASTQ name (plain or .gz, any case), as the readers tell them apart."""
    return _plain_name(path).endswith(FASTA_SUFFIXES + FASTQ_SUFFIXES)


def is_table_file(path: Path) -> bool:
    """A CSV/TSV name (plain or .gz, any case)."""
    return _plain_name(path).endswith(TABLE_SUFFIXES)


def _open_text(path: Path, encoding: str = "utf-8", newline: str | None = None):
    """A text file, plain or gzip (by its .gz suffix), once it is known to exist."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    return opener(path, "rt", encoding=encoding, newline=newline)


def _not_utf8(path: Path, error: UnicodeDecodeError) -> InputError:
    byte = error.object[error.start]
    return InputError(f"{path}: not UTF-8 text (byte {byte:#04x}; a binary file or another encoding)")


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
    stem = path.name.lower().removesuffix(".gz")
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
        raise _not_utf8(path, error) from None
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


def iter_fasta_folder(path: str | Path, labels: str | Path = "none", ambiguous: Ambiguity = "n") -> Iterator[Record]:
    """The records of every FASTA/FASTQ file directly in a folder (other files and subfolders are not read),
    files in name order, ids kept; an id in two files is refused, naming both."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: no such folder")
    files = sorted((file for file in path.iterdir() if file.is_file() and is_sequence_file(file)),
                   key=lambda file: file.name)  # fmt: skip
    if not files:
        suffixes = ", ".join(FASTA_SUFFIXES + FASTQ_SUFFIXES)
        raise InputError(f"{path}: no FASTA/FASTQ files in the folder ({suffixes}, plain or .gz)")
    file_of: dict[str, Path] = {}  # id -> the file it came from (within a file, iter_fasta refuses repeats)
    for file in files:
        for record in iter_fasta(file, labels, ambiguous):
            first = file_of.setdefault(record.id, file)
            if first != file:
                raise InputError(f"{record.where}: duplicate id {record.id!r}, also in {first}")
            yield record


def _table_record(
    fields: list[str], column: dict[str, int], line: int, where: str, seen: set[str], ambiguous: Ambiguity
) -> Record:
    """One checked row: `column` maps id/sequence/label to positions; `seen` holds the ids of the rows above."""
    sequence = fields[column["sequence"]]
    if not sequence:
        raise InputError(f"{where}: empty sequence")
    label = fields[column["label"]] if "label" in column else None
    if label == "":
        raise InputError(f"{where}: empty label")
    if "id" not in column:
        return Record(f"row{line}", normalize(sequence, where, ambiguous), label, where)
    id_ = fields[column["id"]]
    if not id_:
        raise InputError(f"{where}: empty id")
    if id_ in seen:
        raise InputError(f"{where}: duplicate id {id_!r}")
    seen.add(id_)
    return Record(id_, normalize(sequence, where, ambiguous), label, where)


def iter_table(path: str | Path, labels: bool = True, ambiguous: Ambiguity = "n") -> Iterator[Record]:
    """The rows of a CSV/TSV with a `sequence` column, a `label` column unless `labels=False` (then any
    `label` column is ignored) and optionally an `id` column (else ids `row<n>`), one at a time, checked as
    they come.  Row n is line n of the file; the header is row 1.

    The csv module rather than polars: it holds one row at a time and knows each row's line, where polars'
    batched readers parse large chunks ahead on threads of their own (beside torch's) and number rows by
    chunk; parsing costs little next to the model the rows feed."""
    path = Path(path)
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    delimiter = "\t" if _plain_name(path).endswith((".tsv", ".tab")) else ","
    seen: set[str] = set()
    rows = 0
    with _open_text(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, [])
            if not header:
                raise InputError(f"{path}: no data rows (header only or empty)")
            for name in ("sequence", "label") if labels else ("sequence",):
                if name not in header:
                    raise InputError(f"{path}: no {name!r} column (columns: {', '.join(header)})")
            wanted = ("id", "sequence", "label") if labels else ("id", "sequence")
            column = {name: header.index(name) for name in wanted if name in header}
            for fields in reader:
                if not fields:  # a blank line
                    continue
                where = f"{path}: row {reader.line_num}"
                if len(fields) != len(header):
                    raise InputError(f"{where}: {len(fields)} fields, but the header has {len(header)}")
                rows += 1
                yield _table_record(fields, column, reader.line_num, where, seen, ambiguous)
        except UnicodeDecodeError as error:
            raise _not_utf8(path, error) from None
        except csv.Error as error:
            raise InputError(f"{path}: row {reader.line_num}: not readable as CSV ({error})") from None
        except (gzip.BadGzipFile, EOFError) as error:
            raise InputError(f"{path}: not a readable gzip file ({error})") from None
    if not rows:
        raise InputError(f"{path}: no data rows (header only or empty)")


def read_table(path: str | Path, ambiguous: Ambiguity = "n") -> list[Record]:
    """A CSV/TSV with `sequence` and `label` columns (and optionally `id`): iter_table's records."""
    return list(iter_table(path, labels=True, ambiguous=ambiguous))


def read_class_folders(path: str | Path, ambiguous: Ambiguity = "n") -> list[Record]:
    """One subfolder per class holding FASTA files, or plain text files of one sequence each."""
    return list(iter_class_folders(path, ambiguous))


def iter_class_folders(path: str | Path, ambiguous: Ambiguity = "n") -> Iterator[Record]:
    """The records of read_class_folders one at a time: subfolders and their files in name order, ids
    `<class>/<id>` (or `<class>/<file stem>` for a one-sequence text file), the label the subfolder's name."""
    path = Path(path)
    classes = sorted(child for child in path.iterdir() if child.is_dir()) if path.is_dir() else []
    if not classes:
        raise InputError(f"{path}: expected a folder with one subfolder per class")
    count = 0
    for folder in classes:
        for file in sorted(folder.iterdir()):
            if is_sequence_file(file):
                for record in iter_fasta(file, labels="none", ambiguous=ambiguous):
                    count += 1
                    yield Record(f"{folder.name}/{record.id}", record.sequence, folder.name, record.where)
            elif file.is_file():
                try:
                    text = "".join(file.read_text(encoding="utf-8").split())
                except UnicodeDecodeError:
                    raise InputError(f"{file}: not UTF-8 text (a binary file or another encoding)") from None
                count += 1
                sequence = normalize(text, str(file), ambiguous)
                yield Record(f"{folder.name}/{file.stem}", sequence, folder.name, str(file))
    if not count:
        raise InputError(f"{path}: no sequences in its class subfolders ({', '.join(c.name for c in classes)})")
