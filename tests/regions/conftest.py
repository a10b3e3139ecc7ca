"""Fixtures: a folder of tiny generated images with known boxes, and a tiny detector file."""

import pytest
from region_helpers import make_images

from mmf_imgtune.regions.detector import build_detector, save_detector


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
