"""DNA tokenizers: single nucleotides or k-mers (overlapping or not), with padding and unknown tokens.

tokenizer = KmerTokenizer(k=3)
tokenizer.encode("ACGTN")        # ids; a k-mer containing N is the unknown token
reverse_complement("AACG")       # "CGTT"
"""

from __future__ import annotations

from itertools import product

PAD, UNKNOWN = 0, 1
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def reverse_complement(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


class KmerTokenizer:
    """k-mers over ACGT; k=1 is the single-nucleotide tokenizer.  `stride` 1 overlaps, `stride` k does not."""

    def __init__(self, k: int = 1, stride: int = 1):
        if k < 1 or stride < 1:
            raise ValueError(f"k={k} and stride={stride} must be >= 1")
        self.k, self.stride = k, stride
        self.vocabulary = {"".join(kmer): index + 2 for index, kmer in enumerate(product("ACGT", repeat=k))}

    @property
    def size(self) -> int:
        return len(self.vocabulary) + 2  # + PAD + UNKNOWN

    def encode(self, sequence: str) -> list[int]:
        last = max(len(sequence) - self.k + 1, 1)
        return [self.vocabulary.get(sequence[i : i + self.k], UNKNOWN) for i in range(0, last, self.stride)]

    def length(self, nucleotides: int) -> int:
        """Tokens for a sequence of this many nucleotides."""
        return (max(nucleotides - self.k + 1, 1) + self.stride - 1) // self.stride
