"""Atomic file writes: a temporary file beside the target, fsync, then one rename.

A reader (or a resumed run) only ever sees the old file or the complete new one: a SIGKILL,
a full disk or an exception mid-write leaves at most the temporary file, named
``.<name>.tmp-<pid>``, which the next writer of that folder removes once its process is gone
(``remove_orphaned_temps``; ``clear_orphans=True`` does it before the write, for big files
such as checkpoints). A full disk raises ``DiskFullError`` naming the file. Every writer in
mmf_imgtune goes through ``atomic_write``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.utils.processes import pid_alive

TMP_MARK = ".tmp-"  # the one temporary-name pattern: .<name>.tmp-<pid or tag>


class DiskFullError(MMFImgtuneError, OSError):
    """No space left while writing a file atomically; the previous file is intact."""


def temp_path(path: str | os.PathLike, tag: str | int | None = None) -> Path:
    """``.<name>.tmp-<tag>`` beside ``path``; ``tag`` defaults to this process's pid."""
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid() if tag is None else tag}")


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder so a rename inside it survives power loss (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[IO[Any]], Any] | bytes | str,
    *,
    fsync: bool = True,
    fsync_folder: bool = False,
    clear_orphans: bool = False,
    full_disk_hint: str = "Free disk space, then run again.",
) -> Path:
    """Write ``path`` atomically.

    Args:
        path: the final file; its folder is created.
        write: ``write(file_object)`` into the binary temporary file, or the bytes / text
            (UTF-8) to write.
        fsync: fsync the file before the rename (its bytes survive power loss; slower for
            many small files). Without it the write is still atomic against crashes.
        fsync_folder: also fsync the folder after the rename, so the new name survives power
            loss too (checkpoints; one more sync per file, so feature stores skip it).
        clear_orphans: first delete the temporary files of ``path`` that dead writers left
            (a SIGKILL mid-write leaves one; for an LLM checkpoint it is gigabytes). One
            folder scan per call, so writers of many small files skip it.
        full_disk_hint: what the ``DiskFullError`` message tells the user to do.
    Returns:
        ``path`` as a ``Path``.
    Raises:
        DiskFullError: no space left on the device (the old file, if any, is intact).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if clear_orphans:
        remove_orphaned_temps(path.parent.glob(temp_path(path, "*").name))
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            if isinstance(write, str):
                handle.write(write.encode("utf-8"))
            elif isinstance(write, (bytes, bytearray, memoryview)):
                handle.write(write)
            else:
                write(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise DiskFullError(
                error.errno,
                f"no space left on the device while writing {path}; the previous file is "
                f"intact. {full_disk_hint}",
            ) from None
        raise
    if fsync_folder:
        fsync_dir(path.parent)
    return path


def remove_orphaned_temps(candidates: Iterable[Path]) -> None:
    """Delete the temporary files (``.<name>.tmp-<pid>``) among ``candidates`` whose writer
    process is gone (killed mid-write); live writers' files are kept."""
    for tmp in candidates:
        pid = tmp.name.rsplit(TMP_MARK, 1)[-1]
        if TMP_MARK in tmp.name and pid.isdigit() and not pid_alive(int(pid)):
            if tmp.is_dir() and not tmp.is_symlink():
                continue  # folders are replaced by their own writer (replace_folder)
            tmp.unlink(missing_ok=True)
