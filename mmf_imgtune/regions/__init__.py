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

import numpy as np

# The backend modules register the built-in backends (registry kind ``region_backend``);
# detectron2 itself is imported only when its backend is built.
from mmf_imgtune.regions import detectron2_backend, torchvision_backend  # noqa: F401
from mmf_imgtune.regions.base import RegionBackend, RegionResult
from mmf_imgtune.regions.extract import ExtractionSummary, run_extraction
from mmf_imgtune.regions.grid import DEFAULT_GRID, grid_boxes
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
    grid: int | None = None,
    keys: list[str] | None = None,
    image_root: str | None = None,
    weights: str | None = None,
    config_file: str | None = None,
    backbone: str = "mobilenet_v2",
    layer: str | None = None,
    num_boxes: int | None = None,
    min_boxes: int = 10,
    max_boxes: int = 100,
    conf_threshold: float = 0.2,
    nms: float = 0.3,
    min_size: int | None = None,
    max_size: int | None = None,
    batch_size: int = 8,
    device: str = "cpu",
    fsync: bool = True,
    progress: bool = True,
) -> ExtractionSummary:
    """Extract region features for ``images`` into ``output``.

    Args:
        images: a folder, an annotation file (.json COCO / .jsonl / .txt) or a list of paths.
        output: feature folder (``format="npy"``) or LMDB path (``format="lmdb"``).
        backend: ``"torchvision"`` or ``"detectron2"``.
        boxes: key -> (N, 4) x1, y1, x2, y2 pixel boxes to pool features for (no detection),
            or the path of a COCO .json / .jsonl annotation file holding them.
        grid: regions of the images without given boxes: the whole image + a ``grid`` x
            ``grid`` grid. None: detect when ``weights`` is a detector (or ``"random"``),
            else the default grid (``mmf_imgtune.regions.grid.DEFAULT_GRID``).
        keys: output key per image (default: the file stem / path under the folder).
        image_root: folder that relative paths of an annotation file resolve against.
        weights: torchvision: None (ImageNet MobileNetV2: given boxes and grids), "random"
            (an untrained network that also detects: tests only), a checkpoint of
            ``mmf_imgtune_train_detector``, a torchvision state dict or weights name;
            detectron2: the model weights file.
        config_file: detectron2 config file (detectron2 backend only).
        backbone: torchvision detector backbone: mobilenet_v2 | resnet50_fpn |
            mobilenet_v3_large_fpn.
        layer: ``box_head`` (1024-d), ``pooled`` (backbone channels: 1280 mobilenet_v2,
            256 FPN) or ``mid`` (mobilenet_v2 stride-8/16 hypercolumn, 128-d); default
            box_head with a trained detector, else mid (mobilenet_v2) or pooled.
        num_boxes: keep exactly this many detections per image; otherwise those above
            ``conf_threshold``, at least ``min_boxes`` and at most ``max_boxes``.
        nms: IoU threshold of the per-class NMS.
        min_size, max_size: detector input resize (shorter side, cap); None = model default.
        batch_size: images per forward pass.
        device: ``cpu``, ``cuda``, ``cuda:1``...
        fsync: fsync every written file (npy) for durability across power loss.
        progress: show a progress bar with images/s.
    Returns:
        an ``ExtractionSummary`` (counts, failures with paths, boxes per image and source,
        feature dim, the store's extraction record).
    Raises:
        ExtractionMismatchError: the store at ``output`` was made with other settings.
    """
    if grid is not None and (isinstance(grid, bool) or not isinstance(grid, int) or grid < 1):
        raise ValueError(
            f"grid={grid!r}: give the cells per side, a whole number >= 1 (e.g. 4: the whole "
            "image + 4 x 4 cells = 17 regions), or leave it unset"
        )
    model = build_backend(
        backend,
        weights=weights,
        config_file=config_file,
        backbone=backbone,
        layer=layer,
        num_boxes=num_boxes,
        min_boxes=min_boxes,
        max_boxes=max_boxes,
        conf_threshold=conf_threshold,
        nms=nms,
        min_size=min_size,
        max_size=max_size,
        device=device,
    )
    return run_extraction(
        model,
        images,
        output,
        format=format,
        boxes=boxes,
        grid=grid,
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
    "RegionResult",
    "build_backend",
    "extract_features",
]
