"""Atomic writes: a file is written beside its destination and renamed into place, so a reader (or a run
killed half-way) never sees a half-written file.  Checkpoints go through the same rename."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call write(temporary_path), then rename the temporary file onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp's private 0600 would outlive the rename
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except OSError as error:
        if error.errno == errno.ENOSPC:  # name the file the user asked for, not the temporary one
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_figure(figure, path: Path) -> Path:
    """Write a matplotlib figure as PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight"))
    plt.close(figure)
    return path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic: `last.ckpt` is always a whole checkpoint."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        write_atomic(Path(path), lambda temporary: torch.save(checkpoint, temporary))
