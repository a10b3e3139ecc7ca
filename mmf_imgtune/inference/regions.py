"""Regions of one raw image, made the way the training store's were (generate, chat, web).

The recipe comes from the extraction record of the store the model trained on (the train
split's first ``feature_stores`` path; a copy, ``feature_stores.json``, is kept in the run's
save folder for when the store is not on this machine). The backend is rebuilt from it and
checked to reproduce it (the same weights file by sha256, layer, input size); the boxes are
given, a K x K grid, the store's detector, or the store's own source for images without
given boxes. Stores written before records fall back to the data set's ``extract`` options,
with a note that they cannot be checked.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.inference.raw_image import backend_from_record, extract_padded
from mmf_imgtune.inference.runs import InferenceError
from mmf_imgtune.io.features.provenance import (
    describe_box_sources,
    read_record,
)
from mmf_imgtune.regions import RegionOptions, build_backend, extract_features
from mmf_imgtune.regions.grid import grid_boxes
from mmf_imgtune.regions.images import check_boxes
from mmf_imgtune.registry import registry

# extract_features' backend options a store written before records may have set; those its
# data set's config does not say take extract_features' own defaults (declared there only).
_BACKEND_OPTIONS = ("backend", "weights", "config_file", "backbone", "min_size", "max_size")


def _extractor_defaults() -> dict[str, Any]:
    parameters = inspect.signature(extract_features).parameters
    return {name: parameters[name].default for name in _BACKEND_OPTIONS}


def training_store(dataset: str, dataset_config: DictConfig, run_folder: Path) -> tuple:
    """(store path, its config key, its record or None) of the model's train split."""

    stores = registry.get_builder_class(dataset)().feature_stores(dataset_config, "train")
    if not stores:
        raise InferenceError(
            f"dataset_config.{dataset} names no region feature store for the train split "
            "(use_features false?): nothing says how this model's features were made"
        )
    path, key = stores[0]
    if Path(path).exists():
        return path, key, read_record(path)
    saved = run_folder / "feature_stores.json"
    if saved.is_file():
        for entry in (
            json.loads(saved.read_text(encoding="utf-8")).get(dataset, {}).get("train", [])
        ):
            if entry["path"] == path:
                return path, key, entry["record"]
    raise InferenceError(
        f"the model trained on {path} ({key}), which is not here, and {saved} has no copy of "
        "its extraction record; pass --config with the data paths of this machine"
    )


def _legacy_options(path: str, dataset: str, dataset_config: DictConfig) -> dict:
    # Saved configs of old runs are read through config.deprecated: the section is `extract`.
    section = "extract" if "extract" in dataset_config else None
    given = OmegaConf.to_container(dataset_config[section], resolve=True) if section else {}
    options = {key: given.get(key, value) for key, value in _extractor_defaults().items()}
    # The selection was not recorded either: RegionOptions' defaults, the section's layer.
    options["regions"] = RegionOptions(layer=given.get("layer"))
    where = f"dataset_config.{dataset}.{section}" if section else "the extractor's defaults"
    print(
        f"[mmf_imgtune] note: {path} has no extraction record (written before stores "
        f"kept one); extracting with {where}, which cannot be checked against it",
        file=sys.stderr,
    )
    return options


def _backend(record: dict | None, path: str, dataset: str, dataset_config: DictConfig, device):
    if record is None:
        options = _legacy_options(path, dataset, dataset_config)
        return build_backend(str(options.pop("backend")), device=device, **options)
    try:  # the one rebuild of a store's extractor (raw_image.py: exports load without trainer/)
        return backend_from_record(record, path, device)
    except MMFImgtuneError as error:
        raise InferenceError(str(error)) from None


def _choose_boxes(
    boxes, grid: int | None, detect: bool, record: dict | None, backend, image, path: str
):
    """(boxes or None to detect, description) for the one image."""

    width, height = int(image.shape[2]), int(image.shape[1])
    if boxes is not None:
        return check_boxes("--boxes", boxes, width, height), f"{len(boxes)} given boxes"
    sources = (record or {}).get("box_sources") or {}
    if grid is None and not detect:
        if "grid" in sources:
            grid = int(sources["grid"]["grid"])
        elif "detector" not in sources:
            made = describe_box_sources(sources) if record else "unrecorded boxes"
            raise InferenceError(
                f"the training features ({path}) were pooled over {made}; pass --boxes "
                "'[[x1, y1, x2, y2], ...]' for this image (or --grid K to try a grid)"
            )
    if grid is not None:
        if grid < 1:
            raise InferenceError(f"--grid {grid}: give the cells per side, >= 1")
        return grid_boxes(width, height, grid), f"whole image + {grid}x{grid} grid"
    if not backend.detects:
        raise InferenceError(
            f"--detect: the training features ({path}) come from no detector; use --boxes or --grid"
        )
    return None, "boxes from the training store's detector"


def extract_regions(
    image: torch.Tensor,
    boxes: np.ndarray | None,
    *,
    run_folder: str | Path,
    dataset: str,
    dataset_config: DictConfig,
    model_config: DictConfig,
    device: str | torch.device = "cpu",
    grid: int | None = None,
    detect: bool = False,
) -> tuple[torch.Tensor, dict]:
    """Region features of one uint8 (3, H, W) image, made as the training store's were.

    Args:
        boxes: (n, 4) given pixel boxes, or None for ``grid``, ``detect`` or the store's own
            box source.
        run_folder: the run's save folder (its ``feature_stores.json`` stands in for a
            training store that is not on this machine).
        grid: the whole image + a K x K grid instead of the store's boxes.
        detect: the store's detector instead of its boxes.

    Returns:
        ``image_feature_0`` (max_features, D) and ``image_info_0`` (``pad_region_sample``).
    """
    path, key, record = training_store(dataset, dataset_config, Path(run_folder))
    try:
        backend = _backend(record, path, dataset, dataset_config, device)
    except (FileNotFoundError, ImportError, ValueError) as error:
        if isinstance(error, InferenceError):
            raise
        raise InferenceError(f"cannot rebuild the extractor of {path}: {error}") from None
    feature_dim = int(model_config.region_encoder.feature_dim)
    if backend.feature_dim != feature_dim:
        raise InferenceError(
            f"the extractor gives {backend.feature_dim}-d features but the model reads "
            f"{feature_dim}-d ones (region_encoder.feature_dim); {path} ({key}) does not hold "
            "this model's training features"
        )
    chosen, described = _choose_boxes(boxes, grid, detect, record, backend, image, path)
    recipe = backend.recipe()
    print(
        f"[mmf_imgtune] regions: {described}, pooled from {recipe['weights']['name']} "
        f"layer '{recipe['layer']}' ({recipe['feature_dim']}-d), as in {path}",
        file=sys.stderr,
    )
    max_features = dataset_config.get("max_features")
    return extract_padded(backend, image, chosen, max_features, source="--image")
