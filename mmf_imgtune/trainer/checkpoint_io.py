"""Crash-safe checkpoint files: write to a temporary file, fsync, then rename.

A SIGKILL or a full disk at any moment leaves the previous checkpoint intact, because the
final name only ever points at a complete file. Loading uses ``torch.load(weights_only=True)``
so a checkpoint cannot run code; the few non-tensor types Lightning stores are allow-listed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from mmf_imgtune.errors import DataError, MMFImgtuneError
from mmf_imgtune.utils.processes import remove_orphaned_temps


class CheckpointWriteError(MMFImgtuneError, OSError):
    """Saving failed (e.g. disk full); the previous checkpoint is untouched."""


class UnsafeCheckpointError(DataError, RuntimeError):
    """A checkpoint holds objects that ``weights_only`` loading refuses (they could run code)."""


def atomic_write_bytes(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file_object)`` into ``<path>.tmp``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A SIGKILL leaves the temporary file behind; for an LLM checkpoint it is gigabytes.
    remove_orphaned_temps(path.parent.glob(f".{path.name}.tmp.*"), ".tmp.")
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno == errno.ENOSPC:
            raise CheckpointWriteError(
                error.errno,
                f"no space left on the device while writing {path}; the previous file is "
                "intact. Free disk space or lower checkpoint.max_to_keep, then resume.",
            ) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def safe_torch_load(path: str | os.PathLike, map_location: Any = "cpu", mmap: bool = False) -> Any:
    """``torch.load`` with ``weights_only=True`` and a clear message when it refuses.

    ``mmap=True`` maps the tensors instead of reading them (cheap when only metadata is needed).
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as error:
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            raise UnsafeCheckpointError(
                f"{path}: refused to load: the checkpoint holds objects other than tensors and "
                f"plain values, which could run code ({str(error).splitlines()[0]}). Only load "
                "checkpoints you trust, and re-save them with mmf_imgtune."
            ) from None
        raise


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict, path: Any, storage_options: Any = None) -> None:
        atomic_write_bytes(path, lambda handle: torch.save(checkpoint, handle))

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: Any = None
    ) -> dict:
        return safe_torch_load(path, map_location=map_location or "cpu")


def checkpoint_step(path: str | os.PathLike) -> int:
    """The update count stored in a Lightning checkpoint, read without loading its tensors."""
    return int(safe_torch_load(path, mmap=True).get("global_step", 0))
