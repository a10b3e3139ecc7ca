"""Helpers for tests: tiny runs of ``mmf_run`` and plugin folders written on the fly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Overrides that make any run tiny and quiet.
TINY_RUN = [
    "training.max_updates=12",
    "training.batch_size=8",
    "training.evaluation_interval=6",
    "training.checkpoint_interval=6",
    "training.log_interval=3",
    "training.progress_bar=false",
]


def run_cli(
    args: Sequence[str],
    save_dir: str | os.PathLike,
    command: str = "mmf_imgtune_run",
    env: dict | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run a console script of this venv in a subprocess (as a user would)."""
    executable = Path(sys.executable).parent / command
    full_env = {**os.environ, "MMF_SAVE_DIR": str(save_dir), **(env or {})}
    return subprocess.run(
        [str(executable), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


def write_plugin(folder: str | os.PathLike, name: str, files: dict[str, str]) -> Path:
    """Write a plugin package ``<folder>/<name>/`` with the given module sources."""
    package = Path(folder) / name
    package.mkdir(parents=True, exist_ok=True)
    for filename, source in files.items():
        (package / filename).write_text(textwrap.dedent(source))
    return package


def checkpoint_weights(path: str | os.PathLike) -> dict:
    """The ``state_dict`` of a checkpoint our trainer wrote."""
    from mmf_imgtune.trainer.checkpoint_io import safe_torch_load

    return safe_torch_load(path)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    """Two state dicts hold the same keys and bit-identical tensors (exact resume)."""
    import torch

    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
