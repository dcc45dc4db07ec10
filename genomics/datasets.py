"""Labelled DNA data sources, registered by name: the GUE benchmark tasks, the user's own files, and a
synthetic motif task made on the spot."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from sklearn.model_selection import train_test_split

from titans.pipelines import InputError, register
from titans.pipelines.datafiles import DataFile

from . import multilabel
from .sequences import Ambiguity, Record, is_table_file, read_class_folders, read_fasta, read_table

Crop = Literal["center", "start", "end", "error"]

# GUE (DNABERT-2, Zhou et al. 2023) ships as one archive on a shared drive, without stable per-file
# addresses, so its files are found under TITANS_DATA_DIR/genomics/gue/ and checked by sha256.
GUE_FOLDERS = {
    "prom/prom_300_tata": "genomics/gue/prom/prom_300_tata",
    "prom/prom_core_all": "genomics/gue/prom/prom_core_all",
    "prom/prom_core_notata": "genomics/gue/prom/prom_core_notata",
    "prom/prom_core_tata": "genomics/gue/prom/prom_core_tata",
    "tf/0": "genomics/gue/tf/0",
    "tf/1": "genomics/gue/tf/1",
}
GUE_SHA256 = {
    "prom/prom_300_tata/train": "61ef7686a039dbf855a5bebd60a912a46c33d1bbe3b2cdebb923513958831c10",
    "prom/prom_300_tata/dev": "907144395b6c929631683232ad26772320a4922fb470d5331e36283078a1861e",
    "prom/prom_300_tata/test": "7b84ee294625252025b709b96afa089866ab8f3a2cd4f1698ff88b2ba29f4e9b",
    "prom/prom_core_all/train": "d5da6a6deef770af4b0d133621937f502f6ab76bb04ed5ae550bbd975e6705bc",
    "prom/prom_core_all/dev": "823cbaab427662f5e098f6acbe73255a1865125c364e584db86c0cf4829cfc92",
    "prom/prom_core_all/test": "f3a961d0f33adaa8790847fce84ea1b211669d88673f2cc3e3c93d8f1ee60fd1",
    "prom/prom_core_notata/train": "31abe06912b689e150fdf9d8d2619cd01895dfa0667e5614e9bce9da67a88550",
    "prom/prom_core_notata/dev": "6103a3f018a3f8a2304615cddfa743c42a8ed95424d0ec18537120685e7043bb",
    "prom/prom_core_notata/test": "8e7c2b85f66187b61edc3c4c31b3b24ce2b1eb7254b4368dfbd70ec670022a45",
    "prom/prom_core_tata/train": "13fa826cff4d7200e8c5acf1e0dff9f22c7f5104402fe74495b81348aff7b05e",
    "prom/prom_core_tata/dev": "88fea904344865c09cc50bfef2d585b05995683050e4c8b58b8cb3c01ff42b05",
    "prom/prom_core_tata/test": "67fc5bd3639686c01164c50c0d80df91f6c5d36804ca9df53250fcd3695d0fcc",
    "tf/0/train": "5eb8f69634119d4fed3bd9bce1e352ee04d5baf16295feedcb5330b9c1405e61",
    "tf/0/dev": "a6dd795fc289f1244b503604ce7f1a96adf7efd21061ae7a011c7a8582c33d87",
    "tf/0/test": "7a5553bf6b4f28875b99f26fb0e93cdffad4b9f314029013f23910beebac2da9",
    "tf/1/train": "a97d930b8322a16c0f547e034d295be6b9109b94aeb15e72f93fbb1047a7fa75",
    "tf/1/dev": "f0a2be7092efa7299c64093fc20ca013cb5a925775f2fe004b76a8fcc28e55c4",
    "tf/1/test": "56dde538f15de86a3ce8c27b0e8f106f755170ea7e7fdedcbf0954cb38cafe47",
}


@dataclass
class LabelledSequences:
    train: list[Record]
    val: list[Record]
    test: list[Record] | None
    max_length: int | None  # nucleotides; longer sequences are cropped by `crop`
    crop: Crop
    source: str
    multi_label: bool = False  # labels are sets (multilabel.py)

    @property
    def classes(self) -> list[str]:
        if self.multi_label:
            return multilabel.classes(self.train)
        return sorted({record.label for record in self.train})


def _check(data: LabelledSequences) -> LabelledSequences:
    if len(data.classes) < 2:
        raise InputError(f"{data.source}: the training data has a single class {data.classes}; need two or more")
    known = set(data.classes)
    if data.multi_label:
        multilabel.check_seen([*data.val, *(data.test or [])], known)
        return data
    for split, records in (("val", data.val), ("test", data.test or [])):
        unseen = sorted({r.label for r in records} - known)
        if unseen:
            raise InputError(f"{data.source}: {split} has label(s) {unseen} that the training data does not")
    return data


def _read(path: Path, labels: str, ambiguous: Ambiguity, multi_label: bool) -> list[Record]:
    if path.is_dir():
        records = read_class_folders(path, ambiguous)
    elif is_table_file(path):
        records = read_table(path, ambiguous)
    else:
        records = read_fasta(path, labels, ambiguous)
    return [multilabel.label_set(record) for record in records] if multi_label else records


@register("dataset", "gue")
def gue(
    *,
    task: Literal[tuple(GUE_FOLDERS)] = "prom/prom_core_notata",  # type: ignore[valid-type]
    max_length: int | None = None,
    crop: Crop = "center",
) -> LabelledSequences:
    """A GUE benchmark task (DNABERT-2): train/dev/test FASTA with labels in the headers."""
    folder = GUE_FOLDERS[task]
    splits = {
        split: read_fasta(DataFile(f"{folder}/{split}.fa", None, GUE_SHA256[f"{task}/{split}"]).fetch())
        for split in ("train", "dev", "test")
    }
    return _check(LabelledSequences(splits["train"], splits["dev"], splits["test"], max_length, crop, f"gue/{task}"))


def _hold_out(records: list[Record], fraction: float, seed: int, path: Path) -> tuple[list[Record], list[Record]]:
    """A `fraction` of the records for validation, stratified by class."""
    labels = [r.label for r in records]
    try:
        return train_test_split(records, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError:  # a class of one record, or fewer held-out records than classes
        counts = Counter(labels)
        smallest = min(counts, key=counts.get)
        raise InputError(
            f"{path}: cannot hold out val_fraction={fraction} of each class from {len(records)} records (class "
            f"{smallest!r} has {counts[smallest]}); add records, change data.val_fraction or give data.valid"
        ) from None


def _hold_out_label_sets(
    records: list[Record], fraction: float, seed: int, path: Path
) -> tuple[list[Record], list[Record]]:
    """Multi-label: a `fraction` of the records for validation, stratified by each record's rarest class
    (`multilabel.strata`).  A class carried by one record stays in training, and a held-out record with a
    class that no training record has goes back to training, so validation only holds classes the model sees."""
    strata = multilabel.strata(records)
    movable = [i for i, stratum in enumerate(strata) if stratum is not None]
    wanted = math.ceil(fraction * len(records))
    if wanted >= len(movable):
        raise InputError(
            f"{path}: cannot hold out val_fraction={fraction} of {len(records)} records (only {len(movable)} can leave "
            "training: the others carry a class no other record has); add records, change data.val_fraction or give "
            "data.valid"
        )
    try:
        _, held = train_test_split(movable, test_size=wanted, random_state=seed, stratify=[strata[i] for i in movable])
    except ValueError:  # more strata than records to hold out: a plain random draw instead
        _, held = train_test_split(movable, test_size=wanted, random_state=seed)
    held = set(held)
    trained = {name for i, record in enumerate(records) if i not in held for name in record.label.split(";")}
    held = {i for i in held if set(records[i].label.split(";")) <= trained}
    return [r for i, r in enumerate(records) if i not in held], [r for i, r in enumerate(records) if i in held]


@register("dataset", "sequences")
def sequences(
    *,
    train: Path,
    valid: Path | None = None,
    test: Path | None = None,
    labels: str = "header",
    val_fraction: float = 0.1,
    max_length: int | None = None,
    crop: Crop = "center",
    ambiguous: Ambiguity = "n",
    multi_label: bool = False,
    seed: int = 0,
) -> LabelledSequences:
    """Your files: FASTA/FASTQ (gzip too; labels in headers or an id,label table), a sequence,label CSV,
    or a folder per class.  Without `valid`, a stratified `val_fraction` of train is held out (by class; with
    `multi_label`, by each record's rarest class).
    `multi_label`: each label is a set, `a,b` or `a;b` (one sigmoid per class)."""
    records = _read(Path(train), labels, ambiguous, multi_label)
    if valid is None:
        hold_out = _hold_out_label_sets if multi_label else _hold_out
        records, held_out = hold_out(records, val_fraction, seed, Path(train))
    else:
        held_out = _read(Path(valid), labels, ambiguous, multi_label)
    tested = _read(Path(test), labels, ambiguous, multi_label) if test is not None else None
    return _check(LabelledSequences(records, held_out, tested, max_length, crop, str(train), multi_label))


@register("dataset", "motif-demo")
def motif_demo(
    *, examples: int = 3000, length: int = 200, motif: str = "TATAAAAG", mutations: int = 1, seed: int = 0
) -> LabelledSequences:
    """Synthetic: random DNA, half of it carrying a motif (with `mutations` random changes) somewhere."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    records = []
    for index in range(examples):
        sequence = letters[rng.integers(0, 4, length)]
        label = "motif" if index % 2 else "background"
        if label == "motif":
            planted = np.array(list(motif))
            planted[rng.integers(len(motif), size=mutations)] = letters[rng.integers(4, size=mutations)]
            start = rng.integers(0, length - len(motif))
            sequence[start : start + len(motif)] = planted
        records.append(Record(f"seq{index}", "".join(sequence), label))
    train, rest = records[: examples * 8 // 10], records[examples * 8 // 10 :]
    return _check(
        LabelledSequences(train, rest[: len(rest) // 2], rest[len(rest) // 2 :], None, "center", "motif-demo")
    )
