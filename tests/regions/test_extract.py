"""extract_features: both formats round-trip, detection selection, resume, bad images."""

import sys

import numpy as np
import pytest
import torch

import mmf_imgtune.io.features.npy_store as npy_store
from mmf_imgtune.io.features import FeatureReader
from mmf_imgtune.io.features.provenance import read_record
from mmf_imgtune.regions import extract_features

FAST = {"min_size": 64, "max_size": 64, "progress": False, "fsync": False}


@pytest.mark.parametrize("fmt", ["npy", "lmdb"])
def test_given_boxes_round_trip(tmp_path, image_folder, fmt):
    folder, boxes, _ = image_folder
    out = str(tmp_path / ("out.lmdb" if fmt == "lmdb" else "out"))
    summary = extract_features(str(folder), out, format=fmt, boxes=boxes, batch_size=4, **FAST)
    assert (summary.images, summary.written, len(summary.failed)) == (6, 6, 0)
    assert summary.feature_dim == 128 and summary.mean_boxes == 1.0
    reader = FeatureReader(out, max_features=3)
    assert sorted(reader.keys()) == sorted(boxes)
    features, info = reader.read("img2")
    assert features.shape == (3, 128)
    assert torch.count_nonzero(features[0]) > 0 and torch.count_nonzero(features[1:]) == 0
    assert torch.allclose(info["bbox"][0], torch.from_numpy(boxes["img2"][0]))
    assert int(info["num_boxes"]) == 1 and (info["image_width"], info["image_height"]) == (64, 64)
    raw_features, raw_info = reader.load_raw("img2")
    assert raw_features.dtype == np.float32 and raw_info["num_boxes"] == 1


def test_npy_and_lmdb_hold_identical_features(tmp_path, image_folder):
    folder, boxes, _ = image_folder
    extract_features(str(folder), str(tmp_path / "a"), boxes=boxes, **FAST)
    extract_features(str(folder), str(tmp_path / "b.lmdb"), format="lmdb", boxes=boxes, **FAST)
    npy, lmdb = FeatureReader(str(tmp_path / "a"), 2), FeatureReader(str(tmp_path / "b.lmdb"), 2)
    for key in boxes:
        assert torch.allclose(npy.read(key)[0], lmdb.read(key)[0], atol=1e-5)


def test_detection_box_counts_and_classes(tmp_path, image_folder, tiny_detector):
    folder, _, _ = image_folder
    common = {"weights": tiny_detector, "batch_size": 3, **FAST}
    fixed = extract_features(str(folder), str(tmp_path / "fixed"), num_boxes=4, **common)
    assert fixed.feature_dim == 1024 and fixed.mean_boxes == 4.0
    features, info = FeatureReader(str(tmp_path / "fixed"), 6).read("img0")
    assert features.shape == (6, 1024) and int(info["num_boxes"]) == 4
    assert set(info["objects"][:4].tolist()) <= {1, 2, 3} and (info["cls_prob"][:4] > 0).all()
    assert (info["bbox"][:4, 2] <= 64).all() and (info["bbox"][:4, 0] >= 0).all()
    # Nothing passes a threshold of 1.0, so min_boxes decide; nothing fails 0.0: max_boxes.
    low = extract_features(
        str(folder), str(tmp_path / "low"), conf_threshold=1.0, min_boxes=2, **common
    )
    high = extract_features(
        str(folder), str(tmp_path / "high"), conf_threshold=0.0, min_boxes=2, max_boxes=7, **common
    )
    assert low.mean_boxes == 2.0 and high.mean_boxes == 7.0


def test_resume_after_interrupted_run(tmp_path, image_folder, monkeypatch):
    folder, boxes, _ = image_folder
    out = tmp_path / "out"
    real_save, calls = np.save, {"n": 0}

    def crashing_save(handle, array, allow_pickle=False):
        calls["n"] += 1
        if calls["n"] == 5:  # the 3rd image's features: half a file, then the process dies
            handle.write(b"\x93NUMPY partial")
            raise KeyboardInterrupt
        real_save(handle, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(npy_store.np, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        extract_features(str(folder), str(out), boxes=boxes, batch_size=2, **FAST)
    monkeypatch.setattr(npy_store.np, "save", real_save)
    finished = sorted(p.name for p in out.iterdir())
    # Only whole files under their final names: the crashed image left none, not even a temp.
    assert finished == [
        "extraction.json",
        "img0.npy",
        "img0_info.npy",
        "img1.npy",
        "img1_info.npy",
    ]
    assert read_record(str(out))["box_sources"]["given"]["images"] == 2  # counted on the way out
    for path in out.glob("*.npy"):
        np.load(path, allow_pickle=True)
    summary = extract_features(str(folder), str(out), boxes=boxes, batch_size=2, **FAST)
    assert (summary.skipped_existing, summary.written) == (2, 4)
    assert not list(out.glob("*.tmp-*"))
    assert len(FeatureReader(str(out), 2).keys()) == 6


def test_corrupt_image_is_reported_and_skipped(tmp_path, image_folder):
    folder, boxes, _ = image_folder
    (folder / "broken.png").write_bytes(b"not a png at all")
    out = str(tmp_path / "out.lmdb")
    summary = extract_features(str(folder), out, format="lmdb", boxes=boxes, **FAST)
    assert summary.written == 6 and len(summary.failed) == 1
    path, reason = summary.failed[0]
    assert path.endswith("broken.png") and "cannot decode" in reason
    assert "broken.png" in str(summary)
    assert not FeatureReader(out, 2).has("broken")


def test_detectron2_backend_without_detectron2_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "detectron2", None)
    with pytest.raises(ImportError, match="detectron2.readthedocs.io"):
        extract_features(str(tmp_path), str(tmp_path / "out"), backend="detectron2")


def test_imagenet_features_of_given_boxes_know_the_colour(tmp_path):
    """Offline ImageNet MobileNetV2 features (no detector training) separate colours."""
    from region_helpers import make_images

    boxes, labels = make_images(tmp_path / "images", 18, size=64, seed=3)
    out = str(tmp_path / "out")
    extract_features(str(tmp_path / "images"), out, boxes=boxes, batch_size=9, **FAST)
    reader = FeatureReader(out, 1)
    keys = sorted(boxes)
    x = torch.nn.functional.normalize(torch.cat([reader.read(k)[0] for k in keys]), dim=1)
    y = torch.tensor([labels[k] for k in keys])
    similarity = x @ x.T - 2 * torch.eye(len(keys))  # leave-one-out nearest neighbour
    accuracy = (y[similarity.argmax(1)] == y).float().mean()
    assert accuracy >= 0.9, f"1-NN colour accuracy {accuracy:.2f} (chance 0.33)"
