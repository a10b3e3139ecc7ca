"""Builders that extract their own region features: the ``extract`` options and one helper.

A builder whose data comes as images (``image_text_jsonl``; ``hateful_memes``, ``coco`` and
``vqa2`` with ``extract.enabled: true``; ``shapes`` always, through ``data/shapes/features.py``)
calls ``extract_missing`` from ``build`` (rank 0, once) with the feature key and image file
of every record of a split. The features land in the split's first
``features`` path; what is there already is kept, provided the store was made the way the
``extract`` options say (else the run stops naming both settings: see
``mmf_imgtune.io.features.provenance``). The ``extract`` options are
``mmf_imgtune.regions.extract_features``'s, plus ``boxes`` (where given boxes come from) and
``enabled`` (builders with precomputed MMF features: extract at all).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from mmf_imgtune.data.annotated import feature_reader, release_readers
from mmf_imgtune.data.base_builder import split_paths
from mmf_imgtune.io.annotations import AnnotationError

# ``extract`` keys that are not extract_features arguments.
_BUILDER_KEYS = ("boxes", "enabled")
# (store, options) pairs this process has checked: val and test often share train's store.
_CHECKED: set[tuple[str, str]] = set()


def boxes_of_record(record: dict, where: str) -> np.ndarray | None:
    """A line's own ``boxes`` ([[x1, y1, x2, y2], ...] pixels) as (N, 4) float32, or None."""
    if "boxes" not in record:
        return None
    try:
        boxes = np.asarray(record["boxes"], dtype=np.float32)
    except (TypeError, ValueError):
        boxes = np.zeros((0, 3), np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise AnnotationError(
            f"{where}: 'boxes' must be a non-empty list of [x1, y1, x2, y2] pixel boxes"
        )
    return boxes


def given_boxes(
    config: DictConfig,
    dataset: str,
    images: dict[str, str],
    records_boxes: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray] | None:
    """The given boxes ``extract.boxes`` asks for, by feature key.

    ``null``: none; ``annotations``: the lines' own ``boxes``; a path (relative to
    ``data_dir``): a COCO .json (e.g. COCO's instances_train2014.json) or .jsonl with boxes,
    matched to the records by image file (its path, or its name, without extension).

    Args:
        images: feature key -> image file of the split's records.
        records_boxes: feature key -> the records' own boxes.
    """
    source = (config.get("extract") or {}).get("boxes")
    if source is None:
        return None
    if source == "annotations":
        if not records_boxes:
            raise AnnotationError(
                f"dataset_config.{dataset}.extract.boxes=annotations but no record has 'boxes'"
            )
        return records_boxes
    # Lazily: regions loads torchvision's detection models; only extraction needs them
    from mmf_imgtune.regions.images import list_images

    path = source if os.path.isabs(source) else os.path.join(str(config.data_dir), source)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"dataset_config.{dataset}.extract.boxes: {path} does not exist (give a COCO .json "
            "or .jsonl with boxes, 'annotations' for the records' own boxes, or null)"
        )
    by_file = list_images(path)[1]
    by_name = {os.path.basename(k): v for k, v in by_file.items()}
    found = {}
    for key, image in images.items():
        stem = os.path.splitext(image)[0]
        boxes = by_file.get(stem, by_name.get(os.path.basename(stem)))
        if boxes is not None:
            found[key] = boxes
    return found


def extraction_enabled(config: DictConfig) -> bool:
    """``use_features`` and ``extract.enabled`` (builders whose features usually come made)."""
    extract = config.get("extract")
    return bool(config.get("use_features")) and extract is not None and bool(extract.enabled)


def extract_options(config: DictConfig) -> dict[str, Any]:
    """``extract`` as ``extract_features`` keyword arguments."""
    options = OmegaConf.to_container(config.extract, resolve=True)
    return {key: value for key, value in options.items() if key not in _BUILDER_KEYS}


def _find_image(name: str, folders: list[str], dataset: str, split: str) -> str:
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"image '{name}' of {dataset}/{split} is not in {folders} (set by "
        f"dataset_config.{dataset}.images.{split})"
    )


def extract_missing(
    config: DictConfig,
    dataset: str,
    split: str,
    images: dict[str, str],
    boxes: dict[str, np.ndarray] | None = None,
) -> None:
    """Extract the features of ``images`` (feature key -> image file under ``images.<split>``)
    that the split's first ``features`` path lacks, with the ``extract`` options.

    Raises:
        ExtractionMismatchError: the store was made otherwise; the message names the
            ``dataset_config.<dataset>.extract`` options and ``features.<split>`` path.
    """
    # Lazily: regions loads torchvision's detection models; only extraction needs them
    from mmf_imgtune.regions import ExtractionMismatchError, extract_features

    output = split_paths(config, "features", split, dataset)[0]
    folders = split_paths(config, "images", split, dataset)
    if os.path.exists(output):
        reader = feature_reader(output, int(config.max_features))
        images = {key: name for key, name in images.items() if not reader.has(key)}
        release_readers(output)  # the extractor may write to it; load() re-opens
    keys = list(images)
    options = extract_options(config)
    checked = (os.path.abspath(output), json.dumps(options, sort_keys=True))
    if not keys and checked in _CHECKED:
        return
    paths = [_find_image(images[key], folders, dataset, split) for key in keys]
    if paths:
        print(f"[mmf_imgtune] {dataset}/{split}: extracting region features of {len(paths)} images")
    try:
        # Run even when nothing is missing: the store's record is checked against the options.
        summary = extract_features(paths, output, keys=keys, boxes=boxes, **options)
    except ExtractionMismatchError as error:
        raise ExtractionMismatchError(
            f"dataset_config.{dataset}.extract does not match the features in "
            f"dataset_config.{dataset}.features.{split}: {error}"
        ) from None
    _CHECKED.add(checked)
    if summary.failed:
        # Not fatal here: load() reports the records without features (or skips them).
        shown = "; ".join(f"{path}: {why}" for path, why in summary.failed[:3])
        print(f"[mmf_imgtune] {dataset}/{split}: {len(summary.failed)} images failed: {shown}")
