"""Helpers for tests: tiny runs of ``mmf_run`` and plugin folders written on the fly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

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
    """The ``state_dict`` of a checkpoint our trainer wrote (tensors only, as the trainer's
    ``safe_torch_load`` reads it: utils sit below the trainer)."""
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    """Two state dicts hold the same keys and bit-identical tensors (exact resume)."""

    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def write_caption_features(
    data_dir: str | os.PathLike,
    words: Sequence[str],
    samples: int = 256,
    regions: int = 16,
    feature_dim: int = 128,
    seed: int = 0,
) -> Path:
    """An ``image_text_jsonl`` captioning folder with precomputed random region features.

    ``samples`` lines of {image, text (8 words), caption (8 words)}, the same for every split,
    and their features in MMF's npy layout (``<key>.npy`` (regions, feature_dim) float32 +
    ``<key>_info.npy``), so no image is read and nothing is extracted. Used by the speed
    benchmarks and the GPU check.

    Returns:
        the folder (``data_dir/datasets/image_text_jsonl``).
    """

    root = Path(data_dir) / "datasets" / "image_text_jsonl"
    (root / "features").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(samples):
        chosen = rng.choice(list(words), 16)
        lines.append(
            {"image": f"{index}.png", "text": " ".join(chosen[:8]), "caption": " ".join(chosen[8:])}
        )
        x1 = rng.uniform(0, 50, regions)
        bbox = np.stack([x1, x1, x1 + 40, x1 + 40], 1).astype(np.float32)
        info = {"bbox": bbox, "num_boxes": regions, "image_width": 100, "image_height": 100}
        features = rng.normal(0, 1, (regions, feature_dim)).astype(np.float32)
        np.save(root / "features" / f"{index}.npy", features)
        np.save(root / "features" / f"{index}_info.npy", np.array(info, dtype=object))
    for split in ("train", "val", "test"):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return root


def last_logged(save_dir: str | os.PathLike, key: str) -> float:
    """The last value of ``key`` in a run's ``logs/csv/metrics.csv`` (what it logged)."""

    with open(Path(save_dir) / "logs" / "csv" / "metrics.csv", newline="") as handle:
        values = [row[key] for row in csv.DictReader(handle) if row.get(key)]
    if not values:
        raise AssertionError(f"{key} was never logged in {save_dir}/logs/csv/metrics.csv")
    return float(values[-1])


class NoEosTokenizer:
    """The tokenizer with an EOS id no token has, so that generation never stops early
    (benchmarks and tests that need every row to decode all its new tokens)."""

    eos_token_id = -1

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)
