"""The interface every region feature backend (torchvision, detectron2) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class RegionResult:
    """Regions of one image, in the image's original pixel frame.

    Attributes:
        boxes: (N, 4) float32 x1, y1, x2, y2 pixels.
        features: (N, D) float32 pooled box features.
        objects: (N,) int64 class ids (0 when the backend has no trained classifier).
        cls_prob: (N,) float32 probability of that class (0 likewise).
    """

    boxes: np.ndarray
    features: np.ndarray
    objects: np.ndarray
    cls_prob: np.ndarray


class RegionBackend(ABC):
    """Turns a batch of images (plus optional known boxes) into region features.

    Subclasses set ``name``, ``feature_dim`` (D, constant for a backend instance),
    ``class_names`` (``None`` when unknown), ``detects`` (True when it has a detector to
    propose boxes: trained weights, or ``weights="random"`` asked for by name), ``selection``
    (the detection selection settings) and implement ``recipe``.
    """

    name: str = "base"
    feature_dim: int = 0
    class_names: list[str] | None = None
    detects: bool = False
    selection: dict = {}

    @abstractmethod
    def recipe(self) -> dict:
        """What decides the feature values, as the store's extraction record keeps it:
        ``backend``, ``backbone``, ``layer``, ``feature_dim``, ``weights`` (identity),
        ``config_file`` (identity or None), ``input_size`` (``min_size``, ``max_size``)."""

    @abstractmethod
    def extract(
        self, images: list[torch.Tensor], boxes: list[np.ndarray | None]
    ) -> list[RegionResult]:
        """Args:
            images: uint8 (3, H, W) RGB tensors.
            boxes: per image, (N, 4) pixel boxes to pool features for, or ``None`` to detect.
        Returns:
            one ``RegionResult`` per image.
        """
