"""Reading DNA: FASTA/FASTQ/gzip/CSV/folders, normalisation, and one clear error per bad input."""

import gzip

import pytest

from titans.genomics import KmerTokenizer, normalize, read_class_folders, read_fasta, read_table, reverse_complement
from titans.genomics.datasets import sequences
from titans.pipelines import InputError

FASTA = ">a label=pos\nACGTacgt\n>b label=neg\nAAAN\n"


def _write(path, text):
    path.write_text(text)
    return path


def test_fasta_with_header_labels_and_soft_masking(tmp_path):
    records = read_fasta(_write(tmp_path / "x.fa", FASTA))
    assert [(r.id, r.sequence, r.label) for r in records] == [("a", "ACGTACGT", "pos"), ("b", "AAAN", "neg")]


def test_gzip_fastq_and_label_tables(tmp_path):
    with gzip.open(tmp_path / "x.fq.gz", "wt") as handle:
        handle.write("@r1\nACGU\n+\nIIII\n@r2\nGGGG\n+\nIIII\n")
    _write(tmp_path / "labels.tsv", "id\tlabel\nr1\tyes\nr2\tno\n")
    records = read_fasta(tmp_path / "x.fq.gz", labels=tmp_path / "labels.tsv")
    assert [(r.sequence, r.label) for r in records] == [("ACGT", "yes"), ("GGGG", "no")]


def test_csv_tables_and_class_folders(tmp_path):
    assert read_table(_write(tmp_path / "t.csv", "sequence,label\nACGT,x\nTTTT,y\n"))[1].label == "y"
    for label in ("enhancer", "other"):
        (tmp_path / "train" / label).mkdir(parents=True)
        _write(tmp_path / "train" / label / "1.txt", "ACGT\nACGT\n")
    records = read_class_folders(tmp_path / "train")
    assert [(r.label, r.sequence) for r in records] == [("enhancer", "ACGTACGT"), ("other", "ACGTACGT")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no FASTA records"),
        ("just some text\n", "not valid FASTA (text before the first '>' header)"),
        (">a label=x\nACGT\n>a label=y\nACGT\n", "record 2 (a): duplicate id 'a'"),
        (">a\nACGT\n", "record 1 (a): no label"),
        (">a label=x\nACGZ\n", "record 1 (a): 'Z' is not a nucleotide"),
    ],
)
def test_bad_fasta(tmp_path, text, message):
    with pytest.raises(InputError) as error:
        read_fasta(_write(tmp_path / "bad.fa", text))
    assert message in str(error.value) and str(error.value).startswith(str(tmp_path / "bad.fa"))


def test_binary_junk_and_truncated_gzip(tmp_path):
    (tmp_path / "junk.fa").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"junk\.fa"):
        read_fasta(tmp_path / "junk.fa")
    payload = gzip.compress(FASTA.encode() * 50)
    (tmp_path / "cut.fa.gz").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(InputError, match=r"cut\.fa\.gz: cannot read"):
        read_fasta(tmp_path / "cut.fa.gz")


def test_ambiguity_codes_map_to_n_or_are_refused():
    assert normalize("ACRY", "here") == "ACNN"
    with pytest.raises(InputError, match="here: ambiguity code"):
        normalize("ACRY", "here", ambiguous="error")


def test_tokenizers_and_reverse_complement():
    assert reverse_complement("AACGN") == "NCGTT"
    nucleotides = KmerTokenizer(1)
    assert nucleotides.encode("ACGTN") == [2, 3, 4, 5, 1] and nucleotides.size == 6
    kmers = KmerTokenizer(3, stride=3)
    assert len(kmers.encode("ACGTACGTA")) == kmers.length(9) == 3 and kmers.size == 66


def test_tables_with_a_byte_order_mark_quotes_and_blank_lines(tmp_path):
    (tmp_path / "t.csv").write_bytes('\ufeffid,sequence,label\nq,ACGT,"tss,promoter"\n\nr,acgu,x\n'.encode())
    records = read_table(tmp_path / "t.csv")
    assert [(r.id, r.sequence, r.label) for r in records] == [("q", "ACGT", "tss,promoter"), ("r", "ACGT", "x")]
    assert records[1].where == f"{tmp_path / 't.csv'}: row 4"  # the line in the file
    records = read_table(_write(tmp_path / "t.tsv", "label\tsequence\nx\tAC\ny\tGT\n"))
    assert [(r.id, r.sequence) for r in records] == [("row2", "AC"), ("row3", "GT")]


def test_gzip_tables_read_as_the_plain_ones_in_training_too(tmp_path):
    text = "".join(f"s{i},{'ACGT' * (i + 1)},{'ab'[i % 2]}\n" for i in range(20))
    _write(tmp_path / "t.csv", "id,sequence,label\n" + text)
    with gzip.open(tmp_path / "t.csv.gz", "wt") as handle:
        handle.write("id,sequence,label\n" + text)
    with gzip.open(tmp_path / "t.TSV.GZ", "wt") as handle:
        handle.write("id\tsequence\tlabel\n" + text.replace(",", "\t"))
    plain = [(r.id, r.sequence, r.label) for r in read_table(tmp_path / "t.csv")]
    for name in ("t.csv.gz", "t.TSV.GZ"):
        assert [(r.id, r.sequence, r.label) for r in read_table(tmp_path / name)] == plain
        data = sequences(train=tmp_path / name, valid=tmp_path / "t.csv")  # the dataset reads it as a table
        assert sorted((r.id, r.sequence, r.label) for r in data.train) == sorted(plain)
