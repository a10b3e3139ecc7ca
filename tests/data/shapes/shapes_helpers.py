"""Helpers of the ``shapes`` tests: a tiny config and independent scene-graph answers."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[3]
DEFAULTS = ROOT / "configs" / "datasets" / "shapes" / "defaults.yaml"


def tiny_config(data_dir, **overrides):
    """``dataset_config.shapes`` with tiny sizes, 64 px images and a 64 px extractor input."""
    config = OmegaConf.load(DEFAULTS).dataset_config.shapes
    config.data_dir = str(data_dir)
    config.sizes = {"train": 16, "val": 6, "test": 6}
    config.image_size = 64
    config.extract.min_size = 64
    config.extract.max_size = 64
    for key, value in overrides.items():
        OmegaConf.update(config, key, value)
    return config


# --- an independent reading of the scene graph (not the generator's code) ----------------
def side(a: list[int], b: list[int], relation: str) -> bool:
    """Is box ``a`` (x1, y1, x2, y2, x2/y2 exclusive) wholly on ``relation``'s side of ``b``?"""
    checks = {
        "left of": a[2] <= b[0],
        "right of": a[0] >= b[2],
        "above": a[3] <= b[1],
        "below": a[1] >= b[3],
    }
    return checks[relation]


def find(objects: list[dict], colour: str | None = None, shape: str | None = None) -> list[dict]:
    return [
        o
        for o in objects
        if (colour is None or o["colour"] == colour) and (shape is None or o["shape"] == shape)
    ]
