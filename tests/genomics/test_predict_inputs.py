"""`titans predict` on a CSV/TSV table (plain or gzip), a folder of FASTA files or a folder of class
subfolders: the same predictions as for a FASTA file of the same sequences, the same checks (one line naming
file and row or record), a table read lazily, and a clear refusal of any other kind of input."""

import gzip
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from titans.genomics.sequences import iter_table
from titans.pipelines import InputError, Pipeline
from titans.pipelines.streams import batched

from .test_streaming import _peak_bytes, _pipeline

COUNT = 600  # more than one batch of 256, so batches span the folder's two files


def _sequences(count: int = COUNT, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"r{i}", "".join(rng.choices("ACGTN", k=rng.randint(20, 40)))) for i in range(count)]


def _predict(pipeline: Pipeline, path, output) -> pl.DataFrame:
    """Through `Pipeline.predict_file`, as the command does."""
    assert pipeline.predict_file(path, output) == COUNT
    return pl.read_csv(output)


def test_fasta_table_and_folder_give_the_same_predictions(tmp_path):
    sequences = _sequences()
    fasta = "".join(f">{id_} label=b\n{sequence}\n" for id_, sequence in sequences)
    (tmp_path / "new.fa").write_text(fasta)
    # lower case and RNA's U in the table: normalised as in training
    rows = "".join(f"{sequence.lower().replace('t', 'u')},{id_},a\n" for id_, sequence in sequences)
    (tmp_path / "new.csv").write_text("sequence,id,label\n" + rows)
    (tmp_path / "new.tsv").write_text("sequence\n" + "".join(f"{sequence}\n" for _, sequence in sequences))
    folder = tmp_path / "folder"
    folder.mkdir()
    cut = fasta.index(">r400 ")  # in name order: 1.fa before 2.fa
    (folder / "2.fa").write_text(fasta[cut:])
    (folder / "1.fa").write_text(fasta[:cut])
    (folder / "notes.txt").write_text("not read\n")
    with gzip.open(tmp_path / "new.csv.gz", "wt") as handle:
        handle.write("sequence,id,label\n" + rows)
    classes = tmp_path / "classes"  # the training layout: one subfolder per class, subfolders in name order
    (classes / "neg").mkdir(parents=True)
    (classes / "pos").mkdir()
    (classes / "pos" / "new.fa").write_text(fasta[cut:])
    (classes / "neg" / "new.fa").write_text(fasta[:cut])
    pipeline = _pipeline()
    expected = _predict(pipeline, tmp_path / "new.fa", tmp_path / "p.csv")
    assert expected["id"].to_list() == [id_ for id_, _ in sequences]
    assert_frame_equal(_predict(pipeline, tmp_path / "new.csv", tmp_path / "p.csv"), expected)
    assert_frame_equal(_predict(pipeline, folder, tmp_path / "p.csv"), expected)
    assert_frame_equal(_predict(pipeline, tmp_path / "new.csv.gz", tmp_path / "p.csv"), expected)
    by_class = _predict(pipeline, classes, tmp_path / "p.csv")
    assert by_class["id"].to_list() == [f"{'neg' if i < 400 else 'pos'}/r{i}" for i in range(COUNT)]
    assert_frame_equal(by_class.drop("id"), expected.drop("id"))
    by_row = _predict(pipeline, tmp_path / "new.tsv", tmp_path / "p.csv")
    assert by_row["id"].to_list() == [f"row{line}" for line in range(2, COUNT + 2)]
    assert_frame_equal(by_row.drop("id"), expected.drop("id"))


ACCEPTED = ("accepted: FASTA/FASTQ .fa, .fasta, .fna, .fq, .fastq, plain or .gz; a CSV/TSV table .csv, .tsv, "
            ".tab, plain or .gz, with a 'sequence' column; a folder of FASTA/FASTQ files or of one subfolder per "
            "class")  # fmt: skip
BAD_INPUTS = [
    ({"new.csv": "id,seq\nx,ACGT\n"}, "new.csv", {}, "{tmp}/new.csv: no 'sequence' column (columns: id, seq)"),
    ({"new.csv": "id,sequence\nx,ACGT\ny,ACGT\nz,AC-GT!\n"}, "new.csv", {},
     "{tmp}/new.csv: row 4: '!', '-' is not a nucleotide or IUPAC code"),
    ({"new.tsv": "sequence\tlabel\nACGT\ta\n\tb\n"}, "new.tsv", {}, "{tmp}/new.tsv: row 3: empty sequence"),
    ({"new.csv": "id,sequence\nx,ACGT\nx,ACGT\n"}, "new.csv", {}, "{tmp}/new.csv: row 3: duplicate id 'x'"),
    ({"new.csv": "id,sequence\nx,ACGT,TT\n"}, "new.csv", {}, "{tmp}/new.csv: row 2: 3 fields, but the header has 2"),
    ({"new.csv": "id,sequence\n"}, "new.csv", {}, "{tmp}/new.csv: no data rows (header only or empty)"),
    ({"new.csv": "sequence\nACGTACGT\n"}, "new.csv", {"max_length": 5, "crop": "error"},
     "{tmp}/new.csv: row 2: 8 nucleotides, more than max_length=5 (crop: center)"),
    ({"in/a.fa": ">x\nACGT\n", "in/b.fa": ">y\nACGT\n>x\nACGT\n"}, "in", {},
     "{tmp}/in/b.fa: record 2 (x): duplicate id 'x', also in {tmp}/in/a.fa"),
    ({"in/a.fa": ">x\nACGT\n", "in/b.fa": ">y\nAC!T\n"}, "in", {},
     "{tmp}/in/b.fa: record 1 (y): '!' is not a nucleotide or IUPAC code"),
    ({"in/notes.txt": "ACGT\n"}, "in", {},
     "{tmp}/in: no FASTA/FASTQ files in the folder (.fa, .fasta, .fna, .fq, .fastq, plain or .gz)"),
    ({"in/b/deeper/a.fa": ">x\nACGT\n", "in/a/deeper/a.fa": ">x\nACGT\n"}, "in", {},
     "{tmp}/in: no sequences in its class subfolders (a, b)"),
    ({"in/a/1.txt": "ACGT\n", "in/b/2.txt": "AC!T\n"}, "in", {},
     "{tmp}/in/b/2.txt: '!' is not a nucleotide or IUPAC code"),
    ({"new.txt": ">x\nACGT\n"}, "new.txt", {}, f"{{tmp}}/new.txt: unsupported input for prediction ({ACCEPTED})"),
    ({"new.csv.gz": "sequence\nACGT\n"}, "new.csv.gz", {},
     "{tmp}/new.csv.gz: not a readable gzip file (Not a gzipped file (b'se'))"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "name", "state", "message"), BAD_INPUTS)
def test_bad_tables_and_folders_are_one_line_and_leave_no_output(tmp_path, files, name, state, message):
    for file, text in files.items():
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text(text)
    before = set(tmp_path.rglob("*"))
    pipeline = _pipeline(**state)
    with pytest.raises(InputError) as error:
        pipeline.task.predict(pipeline.module.model.eval(), tmp_path / name, tmp_path / "p.csv")
    assert str(error.value) == message.format(tmp=tmp_path)
    assert set(tmp_path.rglob("*")) == before  # no output, no temporary file


def _table(path, rows: int, tail: bytes = b"") -> None:
    rng = random.Random(rows)
    with path.open("wb") as handle:
        handle.write(b"sequence,label\n")
        for _ in range(rows):
            handle.write("".join(rng.choices("ACGT", k=60)).encode() + b",a\n")
        handle.write(tail)


def test_the_table_reader_holds_one_row_at_a_time(tmp_path):
    for rows in (2_000, 20_000):
        _table(tmp_path / f"{rows}.csv", rows)
    small, large = (_peak_bytes(lambda n=n: sum(1 for _ in iter_table(tmp_path / f"{n}.csv", labels=False)))
                    for n in (2_000, 20_000))  # fmt: skip
    held = _peak_bytes(lambda: list(iter_table(tmp_path / "2000.csv", labels=False)))
    # holding the records of 18,000 more rows would cost about 9 times what holding 2,000 does
    assert large - small < held / 4, (small, large, held)


def test_the_first_batch_comes_before_the_end_of_the_table_is_read(tmp_path):
    _table(tmp_path / "new.csv", 5_000, tail=b"\xff\xfe junk\n")  # a reader of the whole file fails at once
    with pytest.raises(pl.exceptions.ComputeError):
        pl.read_csv(tmp_path / "new.csv", infer_schema=False)
    records = iter_table(tmp_path / "new.csv", labels=False)
    first = next(batched(records, 256))
    assert [record.id for record in first] == [f"row{line}" for line in range(2, 258)]
    with pytest.raises(InputError, match=r"new\.csv: not UTF-8 text \(byte 0xff"):
        list(records)
