"""titans.genomics: classify DNA sequences from FASTA/FASTQ/CSV with Titans and MIRAS backbones.

Registers the `dna-classification` task, its datasets (gue, sequences, motif-demo), featurizers
(nucleotides, kmers), head (pooling) and metrics (accuracy, mcc, f1, auroc, auprc) with titans.pipelines.
Single-label by default; `data.multi_label: true` reads label sets (multilabel.py).  `titans predict` streams
files of any size (streaming.py).
"""

from . import datasets, metrics, model, multilabel, task
from .datasets import GUE_FOLDERS, LabelledSequences
from .model import DnaClassifier
from .sequences import Record, iter_fasta, normalize, read_class_folders, read_fasta, read_table
from .task import DnaClassification
from .tokenizers import KmerTokenizer, reverse_complement

__all__ = [
    "GUE_FOLDERS",
    "DnaClassification",
    "DnaClassifier",
    "KmerTokenizer",
    "LabelledSequences",
    "Record",
    "datasets",
    "iter_fasta",
    "metrics",
    "model",
    "multilabel",
    "normalize",
    "read_class_folders",
    "read_fasta",
    "read_table",
    "reverse_complement",
    "task",
]
