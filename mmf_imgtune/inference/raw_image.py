"""A raw image (path, bytes, data URL, PIL, array) -> the region features its model trained on.

``RegionMaker`` rebuilds the extractor of the training store from its record (``regions.json``
of an export, or the store's record for a run folder) and checks that it reproduces it (the
same weights by sha256, layer, input size; ``inference/regions.py``'s check), then pools
the image's boxes: given ones, else the store's own source for images without given boxes
(its grid or its detector), else ``grid`` when set. A training image with its training
boxes gets the features the store holds, so the answer evaluation gave it.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_image

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.io.features.info import pad_region_sample
from mmf_imgtune.io.features.provenance import (
    describe_box_sources,
    describe_record,
    recipe_differences,
)
from mmf_imgtune.regions import RegionOptions, build_backend
from mmf_imgtune.regions.grid import grid_boxes
from mmf_imgtune.regions.images import check_boxes, load_image


class InputError(MMFImgtuneError, ValueError):
    """A request's input is unusable; ``field`` names it (``image``, ``boxes``, ``prompt``...)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def decode_bytes(data: bytes, field: str = "image") -> torch.Tensor:
    """Encoded image bytes -> uint8 RGB (3, H, W), as ``load_image`` decodes files."""
    try:
        image = decode_image(
            torch.frombuffer(bytearray(data), dtype=torch.uint8), ImageReadMode.RGB
        )
    except (RuntimeError, ValueError):
        raise InputError(
            field, f"not an image ({len(data)} bytes that jpeg, png, webp or gif do not decode)"
        ) from None
    if image.ndim != 3 or image.shape[1] < 1 or image.shape[2] < 1:
        raise InputError(field, f"decoded to an empty image of shape {tuple(image.shape)}")
    return image


def data_url_bytes(url: str, field: str = "image") -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL."""
    head, _, payload = url.partition(",")
    if not head.startswith("data:") or ";base64" not in head or not payload:
        raise InputError(field, "expected a data URL 'data:image/png;base64,...'")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InputError(field, f"the data URL's base64 does not decode ({error})") from None


def to_tensor(image: Any, field: str = "image") -> torch.Tensor:
    """Any supported image input -> uint8 RGB (3, H, W)."""
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
            raise InputError(field, f"a tensor must be uint8 (3, H, W), got {image.dtype} "
                             f"{tuple(image.shape)}")  # fmt: skip
        return image
    if isinstance(image, Image.Image):
        return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)
    if isinstance(image, np.ndarray):
        return to_tensor(Image.fromarray(image), field)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_bytes(bytes(image), field)
    if isinstance(image, str) and image.startswith("data:"):
        return decode_bytes(data_url_bytes(image, field), field)
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        raise InputError(field, "URLs are not fetched (no network access here); pass the bytes")
    if isinstance(image, (str, os.PathLike)):
        try:
            return load_image(str(image))
        except OSError as error:
            raise InputError(field, str(error)) from None
    raise InputError(field, f"expected a path, bytes, a data URL, a PIL image or an array, got "
                     f"{type(image).__name__}")  # fmt: skip


class RegionMaker:
    """Args:
    record: the training store's extraction record (``regions.json``).
    max_features: rows after padding (the data set's ``max_features``).
    model_feature_dim: the model's ``region_encoder.feature_dim`` (checked against the backend).
    folder: where relative weight paths of the record point (an export folder), or None.
    device: where the extractor runs.
    grid: cells per side for images without boxes when the store had no grid or detector.
    """

    def __init__(
        self,
        record: dict,
        max_features: int,
        model_feature_dim: int,
        folder: Path | None = None,
        device: Any = "cpu",
        grid: int | None = None,
    ):
        record = _absolute_paths(record, folder)
        self.record, self.max_features, self.grid = record, int(max_features), grid
        self.store = str((record.get("trained_on") or {}).get("store", "the training store"))
        self.backend = backend_from_record(record, self.store, device)
        if self.backend.feature_dim != int(model_feature_dim):
            raise MMFImgtuneError(
                f"the extractor of {self.store} gives {self.backend.feature_dim}-d features but "
                f"the model reads {model_feature_dim}-d ones (region_encoder.feature_dim)"
            )

    def boxes_for(self, image: torch.Tensor, boxes: Any, field: str) -> np.ndarray | None:
        """Given boxes checked, the store's grid, or None to run the store's detector."""
        width, height = int(image.shape[2]), int(image.shape[1])
        if boxes is not None:
            try:
                return check_boxes(field, np.asarray(boxes, dtype=np.float32), width, height)
            except (ValueError, TypeError) as error:
                raise InputError(field, f"expected [[x1, y1, x2, y2], ...] ({error})") from None
        sources = self.record.get("box_sources") or {}
        if "grid" in sources:
            return grid_boxes(width, height, int(sources["grid"]["grid"]))
        if "detector" in sources and self.backend.detects:
            return None
        if self.grid is not None:
            return grid_boxes(width, height, int(self.grid))
        raise InputError(
            field,
            f"this model's training features were pooled over {describe_box_sources(sources)}; "
            "give the image's boxes [[x1, y1, x2, y2], ...] (or serve with a grid)",
        )

    def __call__(
        self, image: torch.Tensor, boxes: Any = None, objects: Any = None, field: str = "boxes"
    ) -> tuple[torch.Tensor, dict]:
        """``image_feature_0`` (max_features, D) and ``image_info_0`` of one uint8 image."""
        chosen = self.boxes_for(image, boxes, field)
        features, info = extract_padded(self.backend, image, chosen, self.max_features, "image")
        if objects is not None:
            ids = np.asarray(objects).reshape(-1)
            if boxes is None or len(ids) != len(boxes) or not np.issubdtype(ids.dtype, np.integer):
                raise InputError("objects", "give one integer class id per given box")
            info["objects"][: len(ids)] = torch.from_numpy(ids.astype(np.int64))
        return features, info


def extract_padded(
    backend: Any,
    image: torch.Tensor,
    boxes: torch.Tensor | None,
    max_features: int | None,
    source: str,
) -> tuple[torch.Tensor, dict]:
    """One image's regions pooled by ``backend``, as a padded MMF sample.

    Args:
        image: (3, H, W) uint8; boxes: (N, 4) xyxy pixels, or None for the backend's own.
        max_features: rows to pad to (None: as many as regions, at least 1).
    Returns:
        ``image_feature_0`` (max_features, D) and ``image_info_0`` (bbox, objects, cls_prob, size).
    """
    result = backend.extract([image], [boxes])[0]
    info = {
        "bbox": result.boxes,
        "objects": result.objects,
        "cls_prob": result.cls_prob,
        "image_width": int(image.shape[2]),
        "image_height": int(image.shape[1]),
    }
    rows = int(max_features or max(len(result.boxes), 1))
    return pad_region_sample(result.features, info, rows, source)


def backend_from_record(record: dict, store: str, device: Any) -> Any:
    """The extractor a store's record describes, checked to reproduce it.

    Here rather than in ``regions.py`` (which calls it) because an export must load without
    the runtime (``trainer/``) that ``regions.py`` opens runs with.
    """
    detector = (record.get("box_sources") or {}).get("detector") or {}
    size = record.get("input_size") or {}
    try:
        backend = build_backend(
            str(record["backend"]),
            weights=(record.get("weights") or {}).get("argument"),
            config_file=(record.get("config_file") or {}).get("path"),
            backbone=record.get("backbone"),
            min_size=size.get("min_size"),
            max_size=size.get("max_size"),
            device=device,
            regions=RegionOptions.from_mapping({**detector, "layer": record.get("layer")}),
        )
    except (FileNotFoundError, ImportError, ValueError) as error:
        raise MMFImgtuneError(f"cannot rebuild the extractor of {store}: {error}") from None
    differences = recipe_differences(record, {**backend.recipe(), "box_sources": {}})
    if differences:
        raise MMFImgtuneError(
            f"cannot extract regions the way {store} was made: {'; '.join(differences)} (did "
            "the weights file change?). The store: " + describe_record(record)
        )
    return backend


def _absolute_paths(record: dict, folder: Path | None) -> dict:
    """Weights/config files the export copied (relative paths) made absolute."""
    if folder is None:
        return record
    record = dict(record)
    for key in ("weights", "config_file"):
        entry = record.get(key)
        if isinstance(entry, dict) and entry.get("path") and not os.path.isabs(entry["path"]):
            path = str(Path(folder) / entry["path"])
            record[key] = {**entry, "path": path, "argument": path}
    return record


def image_bytes_of(image: torch.Tensor) -> bytes:
    """PNG bytes of a uint8 (3, H, W) image (for pictures drawn over it)."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    return buffer.getvalue()
