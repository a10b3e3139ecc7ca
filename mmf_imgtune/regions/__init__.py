"""Region feature extraction into MMF's feature formats, and detector fine-tuning.

``extract_features`` pools region features over images and writes MMF's npy folder or LMDB
(read them with ``mmf_imgtune.io.features.FeatureReader``). Boxes are given, a grid (the
whole image + k x k cells, the default without detector weights) or detected (``recipe.py``).
Backends: ``torchvision`` (always available; ImageNet MobileNetV2, Faster R-CNN MobileNetV2
light or R50-FPN) and ``detectron2`` (when detectron2 imports; e.g. the VG bottom-up R101-C4
model). Every store records how it was made (``mmf_imgtune.io.features.provenance``).
See docs/regions.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The backend modules register the built-in backends (registry kind ``region_backend``);
# detectron2 itself is imported only when its backend is built.
from mmf_imgtune.regions import detectron2_backend, torchvision_backend  # noqa: F401
from mmf_imgtune.regions.base import RegionBackend, RegionResult
from mmf_imgtune.regions.extract import ExtractionSummary, run_extraction
from mmf_imgtune.regions.grid import DEFAULT_GRID, grid_boxes
from mmf_imgtune.regions.options import RegionOptions
from mmf_imgtune.regions.recipe import ExtractionMismatchError
from mmf_imgtune.registry import RegistryError, registry

BACKENDS = ("torchvision", "detectron2")


def build_backend(backend: str = "torchvision", **options) -> RegionBackend:
    """A registered backend by name; ``options`` are ``extract_features``'s model/selection
    arguments (each backend's ``from_options`` drops those it does not use)."""
    try:
        return registry.build("region_backend", backend, **options)
    except RegistryError as error:
        raise ValueError(f"unknown region backend {backend!r}: {error}") from None


def extract_features(
    images: list[str] | str,
    output: str,
    *,
    backend: str = "torchvision",
    format: str = "npy",
    boxes: dict[str, np.ndarray] | str | None = None,
    keys: list[str] | None = None,
    image_root: str | None = None,
    weights: str | None = None,
    config_file: str | None = None,
    backbone: str = "mobilenet_v2",
    min_size: int | None = None,
    max_size: int | None = None,
    batch_size: int = 8,
    device: str = "cpu",
    precision: str = "32",
    fsync: bool = True,
    progress: bool = True,
    regions: RegionOptions | None = None,
    **region_options: Any,
) -> ExtractionSummary:
    """Extract region features for ``images`` into ``output``.

    Args:
        images: a folder, an annotation file (.json COCO / .jsonl / .txt) or a list of paths.
        output: feature folder (``format="npy"``) or LMDB path (``format="lmdb"``).
        backend: a registered region backend: ``"torchvision"`` or ``"detectron2"``.
        boxes: key -> (N, 4) x1, y1, x2, y2 pixel boxes to pool features for (no detection),
            or the path of a COCO .json / .jsonl annotation file holding them.
        keys: output key per image (default: the file stem / path under the folder).
        image_root: folder that relative paths of an annotation file resolve against.
        weights: torchvision: None (ImageNet MobileNetV2: given boxes and grids), "random"
            (an untrained network that also detects: tests only), a checkpoint of
            ``mmf_imgtune_train_detector``, a torchvision state dict or weights name;
            detectron2: the model weights file.
        config_file: detectron2 config file (detectron2 backend only).
        backbone: torchvision detector backbone: mobilenet_v2 | resnet50_fpn |
            mobilenet_v3_large_fpn.
        min_size, max_size: detector input resize (shorter side, cap); None = model default.
        batch_size: images per forward pass.
        device: ``cpu``, ``cuda``, ``cuda:1``...
        precision: the backbone's dtype: ``32``, ``bf16``, or ``auto`` (bf16 where the device
            computes it natively, else float32). Features are stored as float32 either way;
            the store's record names the dtype and a store never mixes two.
        fsync: fsync every written file (npy) for durability across power loss.
        progress: show a progress bar with images/s.
        regions: the box source (``grid``), detection selection (``num_boxes``,
            ``min_boxes``, ``max_boxes``, ``conf_threshold``, ``nms``) and feature ``layer``;
            see ``RegionOptions`` for each field and its default.
        region_options: ``RegionOptions`` fields as keywords (``grid=4``, ``layer="mid"``),
            set over ``regions``.
    Returns:
        an ``ExtractionSummary`` (counts, failures with paths, boxes per image and source,
        feature dim, the store's extraction record).
    Raises:
        ExtractionMismatchError: the store at ``output`` was made with other settings.
    """
    regions = (regions or RegionOptions()).replace(**region_options)
    model = build_backend(
        backend,
        weights=weights,
        config_file=config_file,
        backbone=backbone,
        min_size=min_size,
        max_size=max_size,
        device=device,
        regions=regions,
        precision=precision,
    )
    return run_extraction(
        model,
        images,
        output,
        format=format,
        boxes=boxes,
        grid=regions.grid,
        keys=keys,
        image_root=image_root,
        batch_size=batch_size,
        fsync=fsync,
        progress=progress,
    )


__all__ = [
    "BACKENDS",
    "DEFAULT_GRID",
    "ExtractionMismatchError",
    "grid_boxes",
    "ExtractionSummary",
    "RegionBackend",
    "RegionOptions",
    "RegionResult",
    "build_backend",
    "extract_features",
]
