"""Benchmark data files: each has a canonical download address and a sha256, and is found first under the
data directory, so `TITANS_DATA_DIR=../shared/data` runs every benchmark offline.

    ETTH1 = DataFile("forecasting/ETTh1.csv", "https://.../ETTh1.csv", "f18de3ad269c...")
    path = ETTH1.fetch()     # $TITANS_DATA_DIR/forecasting/ETTh1.csv, else the cache, else a verified download

Lookup order: $TITANS_DATA_DIR/<relative path>, then the download cache ($TITANS_CACHE_DIR, default
~/.cache/titans)/<relative path>, then a download into the cache.  Every file found or downloaded is
checked against its sha256; a mismatch is an error naming the file, never a silent use.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

from .errors import InputError
from .outputs import write_atomic


def data_dir() -> Path | None:
    value = os.environ.get("TITANS_DATA_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    return Path(os.environ.get("TITANS_CACHE_DIR", Path.home() / ".cache" / "titans")).expanduser()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DataFile:
    relative_path: str  # its place under the data directory, e.g. forecasting/ETTh1.csv
    url: str | None  # the canonical download address; None where there is no stable public one
    sha256: str

    def _verified(self, path: Path) -> Path:
        actual = sha256_of(path)
        if actual != self.sha256:
            raise InputError(
                f"{path}: sha256 {actual[:12]}... does not match the expected {self.sha256[:12]}... "
                f"(a damaged or different file; delete it to download again from {self.url})"
            )
        return path

    def fetch(self, download: bool = True) -> Path:
        """The verified local path of this file, downloading it into the cache if needed."""
        root = data_dir()
        if root is not None and (root / self.relative_path).is_file():
            return self._verified(root / self.relative_path)
        cached = cache_dir() / self.relative_path
        if cached.is_file():
            return self._verified(cached)
        where = f"{root / self.relative_path} (TITANS_DATA_DIR)" if root else "$TITANS_DATA_DIR/" + self.relative_path
        if not download or self.url is None:
            reason = "" if self.url else " (no public download address is registered for it)"
            raise InputError(f"{self.relative_path}: not found at {where} or in the cache {cached}{reason}")
        try:
            write_atomic(cached, lambda temporary: self._download(temporary))
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise InputError(f"cannot download {self.url} ({reason}); place the file at {where}") from None
        except InputError:
            raise InputError(f"{self.url}: the download does not match its sha256 {self.sha256[:12]}...") from None
        return cached

    def _download(self, target: Path) -> None:
        with urllib.request.urlopen(self.url, timeout=60) as response, open(target, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, transient=True) as progress:
                task = progress.add_task(f"downloading {Path(self.relative_path).name}", total=total)
                while block := response.read(1 << 20):
                    out.write(block)
                    progress.advance(task, len(block))
        self._verified(target)
