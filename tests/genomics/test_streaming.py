"""`titans predict` on FASTA files of any size: records streamed in batches, rows written as they come into
a temporary file renamed into place, memory that does not grow with the file (beyond the set of seen ids),
and one clear error, with no output file, when a record half-way through is bad."""

import gzip
import random
import tracemalloc

import numpy as np
import polars as pl
import pytest
import torch

from titans.genomics import KmerTokenizer, read_fasta
from titans.genomics.task import EncodedSequences, collate
from titans.pipelines import InputError, Pipeline

CNN = ["model.backbone={name: cnn, dim: 8, depth: 1, heads: 1, window: 4}"]  # fast: these tests time prediction only
STATE = {"classes": ["a", "b"], "k": 3, "stride": 1, "max_length": None, "crop": "center"}


def _pipeline(**state) -> Pipeline:
    """An untrained classifier (its weights do not matter here) restored as if from a checkpoint."""
    pipeline = Pipeline.from_yaml("genomics-fasta", CNN)
    pipeline.task.load_state_dict(STATE | state)
    return pipeline


def _fasta(count: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(f">r{i}\n{''.join(rng.choices('ACGT', k=rng.randint(20, 40)))}\n" for i in range(count))


def _batched(pipeline: Pipeline, path) -> np.ndarray:
    """Every record read first, then predicted in batches: the in-memory way, for reference."""
    records = read_fasta(path, labels="none")
    dataset = EncodedSequences(records, STATE["classes"], KmerTokenizer(3), augment=False)
    model, probabilities = pipeline.module.model.eval(), []
    with torch.no_grad():
        for start in range(0, len(dataset), 256):
            tokens, reverse, _, _ = collate([dataset[i] for i in range(start, min(start + 256, len(dataset)))])
            probabilities.append(pipeline.task._probabilities(model, tokens, reverse))
    return torch.cat(probabilities).numpy()


def test_streamed_predictions_equal_the_batched_ones(tmp_path):
    with gzip.open(tmp_path / "new.fa.gz", "wt") as handle:
        handle.write(_fasta(3000))
    pipeline = _pipeline()
    assert pipeline.predict_file(tmp_path / "new.fa.gz", tmp_path / "p.csv") == 3000
    table = pl.read_csv(tmp_path / "p.csv")
    assert table.columns == ["id", "predicted", "p_a", "p_b"]
    assert table["id"].to_list() == [f"r{i}" for i in range(3000)]
    expected = _batched(pipeline, tmp_path / "new.fa.gz")
    np.testing.assert_allclose(table.select("p_a", "p_b").to_numpy(), expected, atol=1e-6)
    assert table["predicted"].to_list() == [STATE["classes"][k] for k in expected.argmax(1)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new.fa.gz", "p.csv"]


def _peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_records(tmp_path):
    pipeline = _pipeline()
    for count in (2_000, 20_000):
        (tmp_path / f"{count}.fa").write_text(_fasta(count))
    small, large = (_peak_bytes(lambda n=n: pipeline.predict_file(tmp_path / f"{n}.fa", tmp_path / "p.csv"))
                    for n in (2_000, 20_000))  # fmt: skip
    seen_ids = _peak_bytes(lambda: {f"r{i}" for i in range(20_000)})  # what the duplicate-id check must keep
    # holding the records (as reading the whole file first did) costs about 12 MB more here
    assert large - small < seen_ids + 1_000_000, (small, large, seen_ids)
    assert pl.read_csv(tmp_path / "p.csv").height == 20_000


BAD_RECORDS = [
    (">r1500\nAC-GT!\n", {}, "record 1501 (r1500): '!', '-' is not a nucleotide or IUPAC code"),
    (">r3\nACGT\n", {}, "record 1501 (r3): duplicate id 'r3'"),
    (">long\n" + "A" * 50 + "\n", {"max_length": 45, "crop": "error"},
     "record 1501 (long): 50 nucleotides, more than max_length=45 (crop: center)"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "state", "message"), BAD_RECORDS)
def test_a_bad_record_half_way_leaves_no_output(tmp_path, bad, state, message):
    good = _fasta(3000)
    cut = good.index(">r1500\n")
    (tmp_path / "new.fa").write_text(good[:cut] + bad + good[cut:])
    (tmp_path / "old.csv").write_text("id,predicted\nkept,a\n")
    pipeline = _pipeline(**state)
    for output in ("p.csv", "old.csv"):
        with pytest.raises(InputError) as error:
            pipeline.predict_file(tmp_path / "new.fa", tmp_path / output)
        assert str(error.value) == f"{tmp_path / 'new.fa'}: {message}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["new.fa", "old.csv"]  # no partial or temporary file
    assert (tmp_path / "old.csv").read_text() == "id,predicted\nkept,a\n"
