"""Grid regions without a detector, the one-line notice, and the store's extraction record."""

import json
import pickle

import lmdb
import numpy as np
import pytest
import torch

from mmf_imgtune.cli import extract
from mmf_imgtune.io.features import FeatureReader
from mmf_imgtune.io.features.provenance import read_record, store_feature_dim
from mmf_imgtune.regions import DEFAULT_GRID, ExtractionMismatchError, extract_features, grid_boxes
from mmf_imgtune.regions.torchvision_backend import TorchvisionBackend

FAST = {"min_size": 64, "max_size": 64, "progress": False, "fsync": False}


def test_grid_boxes_are_the_whole_image_then_cells_that_tile_it():
    boxes = grid_boxes(100, 60, 3)
    assert boxes.shape == (10, 4) and boxes.dtype == np.float32
    assert boxes[0].tolist() == [0, 0, 100, 60]
    cells = boxes[1:]
    area = ((cells[:, 2] - cells[:, 0]) * (cells[:, 3] - cells[:, 1])).sum()
    assert area == pytest.approx(100 * 60)
    assert cells[1].tolist() == pytest.approx([100 / 3, 0, 200 / 3, 20])  # row by row
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="grid"):
            grid_boxes(10, 10, bad)


def test_no_weights_no_boxes_gives_the_default_grid_without_a_detector(
    tmp_path, image_folder, capsys, monkeypatch
):
    folder, _, _ = image_folder

    def no_detector(*args, **kwargs):
        raise AssertionError("the region proposal network must not run for grid regions")

    original_init = TorchvisionBackend.__init__

    def patched_init(self, **kwargs):
        original_init(self, **kwargs)
        self.model.rpn.forward = no_detector
        self.model.roi_heads.box_head.forward = no_detector

    monkeypatch.setattr(TorchvisionBackend, "__init__", patched_init)
    out = tmp_path / "grid"
    summary = extract_features(str(folder), str(out), batch_size=4, **FAST)
    lines = [line for line in capsys.readouterr().out.splitlines() if "regions:" in line]
    assert len(lines) == 1, lines
    assert f"whole image + {DEFAULT_GRID}x{DEFAULT_GRID} grid" in lines[0]
    assert "no detector weights and no boxes given" in lines[0] and "(128-d)" in lines[0]
    count = 1 + DEFAULT_GRID**2
    assert summary.written == 6 and summary.mean_boxes == count
    assert summary.box_sources == {"grid": 6}
    features, info = FeatureReader(str(out), count).read("img0")
    assert int(info["num_boxes"]) == count and info["bbox"][0].tolist() == [0, 0, 64, 64]
    assert torch.count_nonzero(features) > 0
    record = read_record(str(out))
    assert record["box_sources"] == {"grid": {"grid": DEFAULT_GRID, "images": 6}}
    assert record["weights"]["name"] == "imagenet-mobilenet_v2"
    assert len(record["weights"]["sha256"]) == 64
    assert (record["layer"], record["feature_dim"]) == ("mid", 128)
    assert record["input_size"] == {"min_size": 64, "max_size": 64}


def test_grid_features_do_not_depend_on_the_batch(tmp_path, image_folder):
    folder, _, _ = image_folder
    one = extract_features(str(folder), str(tmp_path / "b1"), grid=2, batch_size=1, **FAST)
    six = extract_features(str(folder), str(tmp_path / "b6"), grid=2, batch_size=6, **FAST)
    assert one.mean_boxes == six.mean_boxes == 5
    a, b = FeatureReader(str(tmp_path / "b1"), 5), FeatureReader(str(tmp_path / "b6"), 5)
    for key in a.keys():
        assert torch.allclose(a.read(key)[0], b.read(key)[0], atol=1e-5), key


def test_an_untrained_detector_runs_only_when_asked_for_and_says_so(tmp_path, image_folder, capsys):
    folder, _, _ = image_folder
    summary = extract_features(
        str(folder), str(tmp_path / "det"), weights="random", num_boxes=3, **FAST
    )
    line = next(x for x in capsys.readouterr().out.splitlines() if "regions:" in x)
    assert "UNTRAINED detector" in line and "tests only" in line
    assert summary.box_sources == {"detector": 6} and summary.mean_boxes == 3
    record = read_record(str(tmp_path / "det"))
    assert record["weights"]["name"] == "random"
    assert record["box_sources"]["detector"]["num_boxes"] == 3


def test_given_boxes_and_grid_share_a_store_and_the_record_counts_both(tmp_path, image_folder):
    folder, boxes, _ = image_folder
    some = {key: boxes[key] for key in ("img0", "img1")}
    summary = extract_features(str(folder), str(tmp_path / "mix"), boxes=some, grid=2, **FAST)
    assert summary.box_sources == {"given": 2, "grid": 4}
    record = read_record(str(tmp_path / "mix"))
    assert record["box_sources"] == {"given": {"images": 2}, "grid": {"grid": 2, "images": 4}}
    reader = FeatureReader(str(tmp_path / "mix"), 5)
    assert int(reader.read("img0")[1]["num_boxes"]) == 1
    assert int(reader.read("img5")[1]["num_boxes"]) == 5


@pytest.mark.parametrize("fmt", ["npy", "lmdb"])
def test_resuming_with_other_settings_fails_before_writing(tmp_path, image_folder, fmt):
    folder, _, _ = image_folder
    out = str(tmp_path / ("feats.lmdb" if fmt == "lmdb" else "feats"))
    extract_features(str(folder), out, format=fmt, grid=2, keys=None, **FAST)
    before = read_record(out)
    with pytest.raises(ExtractionMismatchError) as error:
        # Every image is already there: the old behaviour skipped them all and said nothing.
        extract_features(str(folder), out, format=fmt, grid=2, layer="pooled", **FAST)
    message = str(error.value)
    assert "layer: store 'mid', this run 'pooled'" in message
    assert "feature_dim: store 128, this run 1280" in message
    assert "layer='mid'" in message and out in message and "another output path" in message
    with pytest.raises(ExtractionMismatchError, match=r"grid boxes: store \{'grid': 2\}"):
        extract_features(str(folder), out, format=fmt, grid=3, **FAST)
    assert read_record(out) == before
    again = extract_features(str(folder), out, format=fmt, grid=2, **FAST)
    assert (again.written, again.skipped_existing) == (0, 6)


def test_stores_without_a_record_keep_working_with_a_note(tmp_path, image_folder, capsys):
    folder, boxes, _ = image_folder
    out = tmp_path / "old"
    first = [str(folder / f"img{index}.png") for index in range(3)]
    extract_features(first, str(out), boxes=boxes, **FAST)
    (out / "extraction.json").unlink()  # as written before stores kept records
    assert store_feature_dim(str(out)) == (128, "no extraction record; width of key 'img0'")
    capsys.readouterr()
    summary = extract_features(str(folder), str(out), boxes=boxes, **FAST)
    printed = capsys.readouterr().out
    assert "holds 3 images extracted before stores recorded their settings" in printed
    assert summary.written == 3
    record = read_record(str(out))
    assert record["unrecorded_keys"] == 3 and record["box_sources"]["given"]["images"] == 3
    assert FeatureReader(str(out), 5).read("img1")[0].shape == (5, 128)


def test_lmdb_record_is_invisible_to_mmf_readers(tmp_path, image_folder):
    folder, _, _ = image_folder
    out = tmp_path / "feats.lmdb"
    extract_features(str(folder), str(out), format="lmdb", grid=1, **FAST)
    env = lmdb.open(str(out), readonly=True, lock=False)
    with env.begin() as txn:
        keys = pickle.loads(txn.get(b"keys"))  # what MMF's LMDB reader lists
        assert sorted(k.decode() for k in keys) == [f"img{i}" for i in range(6)]
        record = json.loads(txn.get(b"__mmf_imgtune_extraction__"))
        assert record["box_sources"]["grid"] == {"grid": 1, "images": 6}
        assert pickle.loads(txn.get(b"img3"))["features"].shape == (2, 128)
    env.close()


def test_backbones_without_offline_weights_and_random_box_heads_refuse(tmp_path, image_folder):
    folder, _, _ = image_folder
    with pytest.raises(FileNotFoundError, match="no offline ImageNet weights"):
        extract_features(str(folder), str(tmp_path / "a"), backbone="resnet50_fpn", **FAST)
    with pytest.raises(ValueError, match="layer 'box_head' needs a trained detector"):
        extract_features(str(folder), str(tmp_path / "b"), layer="box_head", **FAST)
    with pytest.raises(ValueError, match="grid=0"):
        extract_features(str(folder), str(tmp_path / "c"), grid=0, **FAST)


def test_extract_cli_grid_option(tmp_path, image_folder, capsys):
    folder, _, _ = image_folder
    out = tmp_path / "feats"
    args = ["--images", str(folder), "--output", str(out), "--grid", "2", "--min-size", "64",
            "--max-size", "64", "--no-progress", "--no-fsync"]  # fmt: skip
    assert extract.main(args) == 0
    printed = capsys.readouterr().out
    assert "whole image + 2x2 grid (5 per image)" in printed and "grid 6" in printed
    assert extract.main([*args[:-6], "--layer", "pooled", *args[-6:]]) == 2
    assert "layer: store 'mid', this run 'pooled'" in capsys.readouterr().err
