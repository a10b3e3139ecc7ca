"""The detectron2 backend: real extraction when detectron2 imports (never faked)."""

import importlib.util

import numpy as np
import pytest

from mmf_imgtune.io.features import FeatureReader
from mmf_imgtune.regions import extract_features

HAS_DETECTRON2 = importlib.util.find_spec("detectron2") is not None


needs_detectron2 = pytest.mark.skipif(
    not HAS_DETECTRON2, reason="detectron2 is not installed (optional)"
)


def _random_model(name: str, folder) -> dict:
    """A randomly initialised model-zoo detector written as a weights file: no download."""
    from detectron2 import model_zoo
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    config_file = model_zoo.get_config_file(name)
    cfg = get_cfg()
    cfg.merge_from_file(config_file)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    DetectionCheckpointer(build_model(cfg), save_dir=str(folder)).save("random")
    weights = str(folder / "random.pth")
    return {"backend": "detectron2", "config_file": config_file, "weights": weights}


@pytest.mark.slow
@needs_detectron2
def test_detectron2_r50_fpn_extracts_box_head_features(tmp_path, image_folder):
    folder, boxes, _ = image_folder
    common = {**_random_model("COCO-Detection/faster_rcnn_R_50_FPN_1x.yaml", tmp_path)}
    common["progress"] = False
    detected = extract_features(str(folder), str(tmp_path / "det"), num_boxes=5, **common)
    assert detected.feature_dim == 1024 and detected.mean_boxes == 5.0
    given = extract_features(str(folder), str(tmp_path / "given"), boxes=boxes, **common)
    info = FeatureReader(str(tmp_path / "given"), 2).read("img0")[1]
    assert given.mean_boxes == 1.0
    assert np.allclose(info["bbox"][0].numpy(), boxes["img0"][0], atol=1e-3)


@pytest.mark.slow
@needs_detectron2
def test_detectron2_r50_c4_pools_res5_and_survives_images_without_proposals(tmp_path, image_folder):
    folder, boxes, _ = image_folder
    common = {**_random_model("COCO-Detection/faster_rcnn_R_50_C4_1x.yaml", tmp_path)}
    common["progress"] = False
    # A random RPN proposes few or no boxes: an image without regions is written, not a crash.
    detected = extract_features(str(folder), str(tmp_path / "det"), num_boxes=5, **common)
    assert detected.feature_dim == 2048 and not detected.failed
    given = extract_features(str(folder), str(tmp_path / "given"), boxes=boxes, **common)
    features, info = FeatureReader(str(tmp_path / "given"), 2).read("img0")
    assert given.mean_boxes == 1.0 and features.shape == (2, 2048)
    assert int(info["num_boxes"]) == 1
