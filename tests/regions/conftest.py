"""Fixtures: a folder of tiny generated images with known boxes, and a tiny detector file."""

import numpy as np
import pytest
import torch
from torchvision.io import write_png

from mmf_imgtune.regions.detector import build_detector, save_detector

COLOURS = torch.tensor([[220, 40, 40], [40, 200, 40], [40, 60, 220]], dtype=torch.uint8)


def make_images(folder, count: int, size: int = 64, seed: int = 0):
    """Squares of random colour/size on a grey background; returns {key: (1, 4) box}, labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    boxes, labels = {}, {}
    for index in range(count):
        image = torch.full((3, size, size), 90, dtype=torch.uint8)
        side = int(rng.integers(size // 5, size // 2))
        x, y = (int(v) for v in rng.integers(0, size - side, size=2))
        colour = int(rng.integers(0, 3))
        image[:, y : y + side, x : x + side] = COLOURS[colour][:, None, None]
        write_png(image, str(folder / f"img{index}.png"))
        boxes[f"img{index}"] = np.array([[x, y, x + side, y + side]], dtype=np.float32)
        labels[f"img{index}"] = colour
    return boxes, labels


@pytest.fixture
def image_folder(tmp_path):
    boxes, labels = make_images(tmp_path / "images", 6)
    return tmp_path / "images", boxes, labels


@pytest.fixture
def tiny_detector(tmp_path):
    """A 3-class mobilenet_v2 detector checkpoint with random weights, small input size."""
    model = build_detector(
        "mobilenet_v2", num_classes=4, imagenet_backbone=False, min_size=64, max_size=64
    )
    model.rpn._post_nms_top_n["testing"] = 50
    path = tmp_path / "detector.pt"
    save_detector(model, str(path), "mobilenet_v2", ["red", "green", "blue"])
    return str(path)
