"""Text corpora and tokenizers.

Tokenizers: `bytes` (UTF-8 bytes, 256 symbols, any text) and `characters` (the corpus's own character set,
saved with the model; characters unseen in training map to an unknown symbol).  Text files may be plain
or gzip; they must be UTF-8.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from titans.pipelines import InputError

UNKNOWN_CHARACTER = "\ufffd"


def read_text(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise InputError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text at byte {error.start} (a binary file or another encoding)") from None
    if not text.strip():
        raise InputError(f"{path}: no text")
    return text


class ByteTokenizer:
    kind = "bytes"

    def __init__(self, vocabulary: list[str] | None = None):
        self.size = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")

    @property
    def vocabulary(self) -> list[str]:
        return []


class CharacterTokenizer:
    kind = "characters"

    def __init__(self, vocabulary: list[str]):
        self.symbols = [UNKNOWN_CHARACTER, *(c for c in vocabulary if c != UNKNOWN_CHARACTER)]
        self.index = {c: i for i, c in enumerate(self.symbols)}
        self.size = len(self.symbols)

    @classmethod
    def from_corpus(cls, text: str) -> CharacterTokenizer:
        return cls(sorted(set(text)))

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.symbols[i] for i in ids)

    @property
    def vocabulary(self) -> list[str]:
        return self.symbols[1:]


TOKENIZERS = {"bytes": ByteTokenizer, "characters": CharacterTokenizer}
