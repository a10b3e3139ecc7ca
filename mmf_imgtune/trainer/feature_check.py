"""Before training: do the data sets' region feature stores fit the model?

Every builder names the stores a split reads (``BaseDatasetBuilder.feature_stores``); each
store knows its feature width from its extraction record (or, for stores written before
records, from its first key). The model's width is the first of ``FEATURE_DIM_KEYS`` under
``model_config.<model>`` that applies. A mismatch fails here, naming both keys, instead of at
the first batch (or, for a store mixing widths, at the odd key many updates in). A store whose
regions per image exceed ``max_features`` (e.g. a 5 x 5 grid = 26 regions into 16) is said so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.io.features.provenance import read_record, store_feature_dim
from mmf_imgtune.regions.grid import grid_region_count

# Where a model states the width of the region features it reads, in order of precedence.
FEATURE_DIM_KEYS = ("region_encoder.feature_dim", "image_encoder.feature_dim", "feature_dim")


def model_feature_dim(config: DictConfig) -> tuple[str, int] | None:
    """(full config key, D) of the features the model reads; None when it reads none."""
    name = config.get("model")
    model = (config.get("model_config") or {}).get(name) if name else None
    if model is None:
        return None
    encoder = model.get("image_encoder")
    encoder_type = encoder.get("type") if encoder is not None else None
    for key in FEATURE_DIM_KEYS:
        node: Any = model
        for part in key.split("."):
            node = node.get(part) if hasattr(node, "get") else None
        if node is None:
            continue
        if key.startswith("region_encoder") and encoder_type is not None:
            return None  # features computed online from images (image_encoder: roi_backbone)
        if key.startswith("image_encoder") and encoder_type != "region":
            return None  # grid/image baselines read pixels
        return f"model_config.{name}.{key}", int(node)
    return None


def _regions_per_image(record: dict) -> int | None:
    sources = record.get("box_sources") or {}
    counts = []
    if "grid" in sources:
        counts.append(grid_region_count(int(sources["grid"]["grid"])))
    detector = sources.get("detector")
    if detector:
        counts.append(int(detector["num_boxes"] or detector["max_boxes"]))
    return max(counts) if counts else None


def check_feature_stores(
    config: DictConfig, builders: dict[str, Any], splits: list[str]
) -> dict[str, dict[str, list[dict]]]:
    """Raise ``ConfigError`` if a store's width differs from the model's; note truncation.

    Returns:
        ``{dataset: {split: [{"path", "key", "record"}]}}``, what the run saves as
        ``feature_stores.json`` (``mmf_imgtune_generate`` reads it when a store is elsewhere).
    """
    wanted = model_feature_dim(config)
    seen: set[str] = set()
    stores: dict[str, dict[str, list[dict]]] = {}
    for name, builder in builders.items():
        dataset_config = config.dataset_config[name]
        for split in splits:
            for path, key in builder.feature_stores(dataset_config, split):
                if path not in seen:
                    _check_store(path, key, name, dataset_config, wanted)
                    seen.add(path)
                entry = {"path": path, "key": key, "record": read_record(path)}
                stores.setdefault(name, {}).setdefault(split, []).append(entry)
    return stores


def save_feature_stores(stores: dict, save_dir: str) -> None:
    """``<save_dir>/feature_stores.json``: the stores and their records, beside config.yaml."""

    data = json.dumps(stores, indent=1, sort_keys=True).encode()
    atomic_write(
        Path(save_dir) / "feature_stores.json", data, fsync_folder=True, clear_orphans=True
    )


def _check_store(path: str, key: str, name: str, dataset_config: DictConfig, wanted) -> None:
    if not os.path.exists(path):
        return  # the data set's own check names the missing path and its key
    dim, evidence = store_feature_dim(path)
    if wanted is not None and dim is not None and dim != wanted[1]:
        raise ConfigError(
            f"{key}: {path} holds {dim}-d region features ({evidence}) but {wanted[0]} is "
            f"{wanted[1]}. Set {wanted[0]}={dim}, or point {key} at features {wanted[1]} wide "
            "(extract them with another layer into a new path)"
        )
    record = read_record(path) or {}
    regions, limit = _regions_per_image(record), dataset_config.get("max_features")
    if regions and limit and regions > int(limit):
        print(
            f"[mmf_imgtune] note: {path} has up to {regions} regions per image but "
            f"dataset_config.{name}.max_features={limit} keeps the first {limit}; raise it to "
            f"{regions} to use them all"
        )
