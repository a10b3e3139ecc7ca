"""The translation layer between MMF's batches and ImgTune's inputs (no MMF import needed).

MMF (facebookresearch/mmf) and mmf_imgtune agree on field names but not on every detail:

- MMF's feature readers leave ``image_info_0.bbox`` unpadded (one (N_i, 4) array per image, so a
  ``SampleList`` holds a list), keep ``num_boxes`` as an int (a list after batching) or omit it,
  and put the true box count in ``image_info_0.max_features`` (a long tensor, (B,) after
  batching; it is the stored count, possibly above the padded width). They do not compute
  ``boxes_5d``.
- mmf_imgtune's readers give padded ``bbox`` (B, N, 4), ``boxes_5d`` (B, N, 5), ``num_boxes``
  (B,) and ``objects`` (B, N).

``imgtune_batch`` turns either into what ``ImgTune.forward`` reads, on the features' device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.io.features.info import boxes_to_5d

# The one field whose layout differs between MMF and mmf_imgtune batches.
_INFO = "image_info_0"


def _as_list(value: Any, batch: int) -> list:
    """A per-sample field as a list of length ``batch`` (tensor rows, list items or a scalar)."""
    if value is None:
        return [None] * batch
    if isinstance(value, torch.Tensor):
        return list(value.reshape(batch, *value.shape[1:])) if value.dim() else [value] * batch
    if isinstance(value, np.ndarray) and value.dtype != object and value.ndim >= 1:
        return list(value) if len(value) == batch else [value] * batch
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != batch:
            raise ValueError(f"image_info_0 field has {len(value)} items for a batch of {batch}")
        return list(value)
    return [value] * batch


def _to_int(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return int(np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value).item())
    return int(value)


def box_counts(info: Mapping, batch: int, width: int) -> torch.Tensor:
    """True boxes per image, (B,) long, at most ``width`` (the padded feature rows).

    ``num_boxes`` wins when present; otherwise MMF's ``max_features`` (the stored count);
    otherwise every row counts.
    """
    source = info.get("num_boxes")
    if source is None:
        source = info.get("max_features")
    counts = [_to_int(v, width) for v in _as_list(source, batch)]
    return torch.tensor([min(max(c, 0), width) for c in counts], dtype=torch.long)


def _padded_rows(rows: list, width: int, columns: int, dtype: np.dtype) -> np.ndarray:
    out = np.zeros((len(rows), width, columns), dtype=dtype)
    for i, row in enumerate(rows):
        if row is None:
            continue
        arr = np.asarray(row.cpu() if isinstance(row, torch.Tensor) else row, dtype=dtype)
        arr = arr.reshape(-1, columns)[:width]
        out[i, : len(arr)] = arr
    return out


def imgtune_image_info(info: Mapping, batch: int, width: int, device: Any) -> dict:
    """``image_info_0`` for ImgTune from an MMF or mmf_imgtune batch.

    Args:
        info: the batch's ``image_info_0`` (a mapping of per-sample lists or stacked tensors).
        batch: B. width: N, the padded feature rows of ``image_feature_0`` (B, N, D).
    Returns:
        ``num_boxes`` (B,) long, ``boxes_5d`` (B, N, 5) float (zeros where no boxes are
        known), ``objects`` (B, N) long when present, ``bbox`` (B, N, 4) float.
    """
    counts = box_counts(info, batch, width)
    out: dict[str, Any] = {"num_boxes": counts.to(device)}
    bbox = info.get("bbox")
    if isinstance(info.get("boxes_5d"), torch.Tensor):
        out["boxes_5d"] = info["boxes_5d"].to(device)
    elif bbox is not None:
        boxes = _padded_rows(_as_list(bbox, batch), width, 4, np.float32)
        widths = _as_list(info.get("image_width"), batch)
        heights = _as_list(info.get("image_height"), batch)
        geometry = np.zeros((batch, width, 5), dtype=np.float32)
        for i in range(batch):
            kept = int(counts[i])
            w = _to_int(widths[i], 0) or max(float(boxes[i, :kept, 2].max(initial=1.0)), 1.0)
            h = _to_int(heights[i], 0) or max(float(boxes[i, :kept, 3].max(initial=1.0)), 1.0)
            geometry[i, :kept] = boxes_to_5d(boxes[i, :kept], w, h)
        out["boxes_5d"] = torch.from_numpy(geometry).to(device)
    if isinstance(bbox, torch.Tensor) and bbox.dim() == 3:
        out["bbox"] = bbox.to(device)
    elif bbox is not None:
        out["bbox"] = torch.from_numpy(_padded_rows(_as_list(bbox, batch), width, 4, np.float32))
        out["bbox"] = out["bbox"].to(device)
    objects = info.get("objects")
    if isinstance(objects, torch.Tensor) and objects.dim() == 2:
        out["objects"] = objects.to(device).long()
    elif objects is not None:
        rows = _padded_rows(_as_list(objects, batch), width, 1, np.int64)[..., 0]
        out["objects"] = torch.from_numpy(rows).to(device)
    return out


def imgtune_batch(sample_list: Mapping) -> SampleList:
    """A batch ImgTune reads, from an MMF ``SampleList`` (or mmf_imgtune's).

    Every field is kept except ``image_info_0``, rebuilt by ``imgtune_image_info``.
    """
    batch = SampleList()
    for key, value in sample_list.items():
        if key != _INFO:
            batch[key] = value
    features = sample_list.get("image_feature_0")
    info = sample_list.get(_INFO)
    if isinstance(features, torch.Tensor) and info is not None:
        size, width = features.shape[0], features.shape[1]
        batch[_INFO] = imgtune_image_info(info, size, width, features.device)
    return batch


def mmf_sample_fields(sample: Mapping) -> dict:
    """One of our dataset items with MMF's field conventions, for MMF's models and collation.

    MMF's readers give ``image_info_0.max_features`` as a long tensor (models such as
    VisualBERT build their region mask from it after batching); ours give an int.
    """
    item = dict(sample)
    info = item.get(_INFO)
    if isinstance(info, Mapping) and isinstance(info.get("max_features"), int):
        info = dict(info)
        info["max_features"] = torch.tensor(info["max_features"], dtype=torch.long)
        item[_INFO] = info
    return item
