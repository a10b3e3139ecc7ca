"""Crash-safe checkpoint files: write to a temporary file, fsync, then rename (``io.atomic``).

A SIGKILL or a full disk at any moment leaves the previous checkpoint intact, because the
final name only ever points at a complete file. Loading uses ``torch.load(weights_only=True)``
so a checkpoint cannot run code; the few non-tensor types Lightning stores are allow-listed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from mmf_imgtune.errors import DataError
from mmf_imgtune.io.atomic import atomic_write, fsync_dir, temp_path

# What a full disk while saving a checkpoint asks the user to do (io.atomic.DiskFullError).
CHECKPOINT_DISK_HINT = "Free disk space or lower checkpoint.max_to_keep, then resume."


class UnsafeCheckpointError(DataError, RuntimeError):
    """A checkpoint holds objects that ``weights_only`` loading refuses (they could run code)."""


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


def save_checkpoint_file(checkpoint: dict, path: str | os.PathLike) -> Path:
    """``torch.save`` of a whole checkpoint to one file, atomically (``io.atomic``): fsync of
    the file and its folder, a killed writer's temporary file removed first, and a full disk
    saying how to resume."""
    return atomic_write(
        path,
        lambda handle: torch.save(checkpoint, handle),
        fsync_folder=True,
        clear_orphans=True,
        full_disk_hint=CHECKPOINT_DISK_HINT,
    )


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict, path: Any, storage_options: Any = None) -> None:
        save_checkpoint_file(checkpoint, path)

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: Any = None
    ) -> dict:
        return safe_torch_load(path, map_location=map_location or "cpu")


# Lightning's name for the non-tensor part of a sharded (folder) checkpoint.
SHARDED_METADATA = "meta.pt"


def is_sharded_checkpoint(path: str | os.PathLike) -> bool:
    """A folder of per-rank shards, as ``training.strategy=fsdp`` writes them."""
    return Path(path).is_dir() and (Path(path) / SHARDED_METADATA).is_file()


def checkpoint_step(path: str | os.PathLike) -> int:
    """The update count stored in a Lightning checkpoint (file or sharded folder), read
    without loading its tensors."""
    if is_sharded_checkpoint(path):
        path = Path(path) / SHARDED_METADATA
    return int(safe_torch_load(path, mmap=not Path(path).is_dir()).get("global_step", 0))


def replace_folder(source: Path, target: Path) -> None:
    """Move the complete folder ``source`` to ``target``, replacing an older ``target``.

    Two renames: a crash between them leaves ``.<target>.old`` (the previous version) and no
    ``target``; never a half-written folder under the final name.
    """
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.is_dir() and not target.is_symlink():
        os.replace(target, old)
    elif target.exists() or target.is_symlink():
        target.unlink()
    os.replace(source, target)
    fsync_dir(target.parent)
    if old.exists():
        shutil.rmtree(old)


def point_link_at(target: Path, link: Path) -> None:
    """Make ``link`` a relative symlink to ``target``, atomically (rename over the old link)."""
    tmp = temp_path(link)
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # a folder of an older layout; the link replaces it
    os.replace(tmp, link)


def remove_checkpoint(path: Path) -> None:
    """Delete a checkpoint file or sharded folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def consolidate(folder: str | os.PathLike) -> dict:
    """A sharded checkpoint folder as one Lightning checkpoint dict, in one process.

    Returns:
        Lightning's metadata plus ``state_dict`` (full tensors) and ``optimizer_states``: what
        a single-file checkpoint holds, loadable by ``mmf_predict`` / ``resume_pretrained``.
    """

    # torch.distributed.checkpoint loads only for sharded (FSDP) checkpoints
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    folder = Path(folder)
    if not is_sharded_checkpoint(folder):
        raise DataError(f"{folder}: not a sharded checkpoint folder (no {SHARDED_METADATA})")
    checkpoint = safe_torch_load(folder / SHARDED_METADATA)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        single = Path(scratch) / "consolidated.pt"
        dcp_to_torch_save(folder, single)
        shards = safe_torch_load(single)
    checkpoint["state_dict"] = shards.pop("model")
    optimizers = sorted(
        (k for k in shards if k.startswith("optimizer_")), key=lambda k: int(k[10:])
    )
    checkpoint["optimizer_states"] = [shards[k] for k in optimizers]
    return checkpoint
