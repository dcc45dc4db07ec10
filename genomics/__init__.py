"""titans.genomics: classify DNA sequences from FASTA/FASTQ/CSV with Titans and MIRAS backbones.

Registers the `dna-classification` task, its datasets (gue, sequences, motif-demo), featurizers
(nucleotides, kmers), head (pooling) and metrics (accuracy, mcc, f1, auroc, auprc) with titans.pipelines.
"""

from . import datasets, metrics, model, task
from .datasets import GUE_FOLDERS, LabelledSequences
from .model import DnaClassifier
from .sequences import Record, normalize, read_class_folders, read_fasta, read_table
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
    "metrics",
    "model",
    "normalize",
    "read_class_folders",
    "read_fasta",
    "read_table",
    "reverse_complement",
    "task",
]
