"""MMF's region-feature semantics: pad/truncate to ``max_features`` and the 5-number box geometry.

A stored image holds ``features`` (N, D) and an info dict (``bbox`` (N, 4) x1, y1, x2, y2 in
original pixels, ``objects`` (N,), ``cls_prob`` (N,) or (N, C), ``image_width``,
``image_height``). Readers turn that into MMF's ``image_feature_0`` / ``image_info_0``, padded
with zeros (or truncated) to a fixed ``max_features`` so a batch stacks, keeping the true count.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

_warned_sizes: set[str] = set()


def boxes_to_5d(bbox: np.ndarray, width: float, height: float) -> np.ndarray:
    """Box geometry as transformers read it (VisualBERT/ViLBERT style).

    Args:
        bbox: (N, 4) x1, y1, x2, y2 in pixels.
        width, height: image size in pixels.
    Returns:
        (N, 5) float32: x1/W, y1/H, x2/W, y2/H, area/(W*H).
    """
    bbox = bbox.astype(np.float32, copy=False)
    out = np.empty((bbox.shape[0], 5), dtype=np.float32)
    out[:, 0] = bbox[:, 0] / width
    out[:, 1] = bbox[:, 1] / height
    out[:, 2] = bbox[:, 2] / width
    out[:, 3] = bbox[:, 3] / height
    out[:, 4] = (out[:, 2] - out[:, 0]) * (out[:, 3] - out[:, 1])
    return out


def _image_size(info: dict, bbox: np.ndarray, source: str) -> tuple[int, int]:
    if "image_width" in info and "image_height" in info:
        return int(info["image_width"]), int(info["image_height"])
    # Some older MMF feature sets omit the size; the box extent is the best lower bound.
    if source not in _warned_sizes:
        _warned_sizes.add(source)
        warnings.warn(
            f"{source}: info has no image_width/image_height; using the box extent for boxes_5d. "
            "Re-extract with mmf_imgtune_extract to store the true size.",
            stacklevel=3,
        )
    width = float(bbox[:, 2].max()) if len(bbox) else 1.0
    height = float(bbox[:, 3].max()) if len(bbox) else 1.0
    return max(int(np.ceil(width)), 1), max(int(np.ceil(height)), 1)


def pad_region_sample(
    features: np.ndarray, info: dict, max_features: int, source: str = "<features>"
) -> tuple[torch.Tensor, dict]:
    """Build MMF's ``image_feature_0`` and ``image_info_0`` from one stored image.

    Args:
        features: (N, D) region features.
        info: the stored info dict (see module docstring); ``bbox`` may be missing (zeros).
        max_features: rows after padding/truncation.
        source: file/key named in errors.
    Returns:
        ``image_feature_0`` (max_features, D) float32 and ``image_info_0`` with ``bbox``
        (max_features, 4) float32, ``boxes_5d`` (max_features, 5) float32, ``num_boxes`` long
        scalar (true count after truncation), ``max_features`` int (MMF's meaning: the true
        count), ``objects`` (max_features,) long, ``cls_prob`` (max_features,[C]) float32,
        ``image_width``, ``image_height`` int.
    """
    if features.ndim != 2:
        raise ValueError(
            f"{source}: region features must be 2-D (num_boxes, dim), got shape {features.shape}"
        )
    # One preallocated zero array per field and a slice copy: this runs once per sample in
    # the data loader, so it avoids temporaries (see benchmarks/feature_read.py).
    count = features.shape[0]
    kept = min(count, max_features)
    padded = np.zeros((max_features, features.shape[1]), dtype=np.float32)
    padded[:kept] = features[:kept]
    bbox = np.zeros((max_features, 4), dtype=np.float32)
    if "bbox" in info:
        stored = np.asarray(info["bbox"]).reshape(-1, 4)
        if stored.shape[0] != count:
            raise ValueError(
                f"{source}: {count} feature rows but {stored.shape[0]} boxes in 'bbox'; the "
                "feature and info files do not belong together. Re-extract this image."
            )
        bbox[:kept] = stored[:kept]
    width, height = _image_size(info, bbox[:kept], source)
    boxes_5d = np.zeros((max_features, 5), dtype=np.float32)
    boxes_5d[:kept, :4] = bbox[:kept] / np.array([width, height, width, height], np.float32)
    boxes_5d[:kept, 4] = (boxes_5d[:kept, 2] - boxes_5d[:kept, 0]) * (
        boxes_5d[:kept, 3] - boxes_5d[:kept, 1]
    )
    objects = np.zeros(max_features, dtype=np.int64)
    if "objects" in info:
        objects[:kept] = np.asarray(info["objects"]).reshape(-1)[:kept]
    stored_prob = np.asarray(info.get("cls_prob", ()), dtype=np.float32)
    cls_prob = np.zeros((max_features, *stored_prob.shape[1:]), dtype=np.float32)
    if stored_prob.size:
        cls_prob[:kept] = stored_prob[:kept]
    image_info = {
        "bbox": torch.from_numpy(bbox),
        "boxes_5d": torch.from_numpy(boxes_5d),
        "num_boxes": torch.tensor(kept, dtype=torch.long),
        "max_features": kept,
        "objects": torch.from_numpy(objects),
        "cls_prob": torch.from_numpy(cls_prob),
        "image_width": width,
        "image_height": height,
    }
    return torch.from_numpy(padded), image_info
