"""The detectron2 backend: real extraction when detectron2 imports (never faked)."""

import importlib.util

import numpy as np
import pytest

from mmf_imgtune.data.features import FeatureReader
from mmf_imgtune.regions import extract_features

HAS_DETECTRON2 = importlib.util.find_spec("detectron2") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DETECTRON2, reason="detectron2 is not installed (optional)")
def test_detectron2_r50_fpn_extracts_box_head_features(tmp_path, image_folder):
    from detectron2 import model_zoo
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    # A randomly initialised COCO R50-FPN written as a weights file: no download.
    config_file = model_zoo.get_config_file("COCO-Detection/faster_rcnn_R_50_FPN_1x.yaml")
    cfg = get_cfg()
    cfg.merge_from_file(config_file)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    DetectionCheckpointer(build_model(cfg), save_dir=str(tmp_path)).save("random")
    folder, boxes, _ = image_folder
    common = {
        "backend": "detectron2",
        "config_file": config_file,
        "weights": str(tmp_path / "random.pth"),
        "progress": False,
    }
    detected = extract_features(str(folder), str(tmp_path / "det"), num_boxes=5, **common)
    assert detected.feature_dim == 1024 and detected.mean_boxes == 5.0
    given = extract_features(str(folder), str(tmp_path / "given"), boxes=boxes, **common)
    info = FeatureReader(str(tmp_path / "given"), 2).read("img0")[1]
    assert given.mean_boxes == 1.0
    assert np.allclose(info["bbox"][0].numpy(), boxes["img0"][0], atol=1e-3)
