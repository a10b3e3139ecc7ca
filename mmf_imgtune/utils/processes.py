"""Whether a process still runs: temporary files named after a dead writer's pid are litter."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True


def remove_orphaned_temps(candidates: Iterable[Path], pid_marker: str) -> None:
    """Delete the temporary files ``<name><pid_marker><pid>`` among ``candidates`` whose
    writer process is gone (killed mid-write); live writers' files are kept."""
    for tmp in candidates:
        pid = tmp.name.rsplit(pid_marker, 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
