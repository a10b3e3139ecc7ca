"""mmf_imgtune_train_detector then mmf_imgtune_extract, as a user runs them."""

import json

import numpy as np
import pytest

from mmf_imgtune.cli import extract, train_detector
from mmf_imgtune.io.features import FeatureReader
from mmf_imgtune.regions.detector import load_detector
from mmf_imgtune.utils.testing import run_cli


def _coco(folder, boxes, labels):
    images = [{"id": i, "file_name": f"{key}.png"} for i, key in enumerate(boxes)]
    annotations = [
        {
            "id": i,
            "image_id": i,
            "bbox": [
                *boxes[key][0, :2].tolist(),
                *(boxes[key][0, 2:] - boxes[key][0, :2]).tolist(),
            ],
            "category_id": 10 + labels[key],
        }
        for i, key in enumerate(boxes)
    ]
    categories = [{"id": 10 + c, "name": n} for c, n in enumerate(["red", "green", "blue"])]
    path = folder / "train.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


@pytest.mark.slow
def test_train_detector_then_extract_with_its_weights(tmp_path, image_folder, capsys):
    folder, boxes, labels = image_folder
    annotations = _coco(folder, boxes, labels)
    weights = tmp_path / "detector.pt"
    size = ["--min-size", "64", "--max-size", "64"]
    code = train_detector.main(
        [
            "--annotations",
            str(annotations),
            "--output",
            str(weights),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--warmup-steps",
            "1",
            "--no-progress",
            *size,
        ]
    )
    assert code == 0 and weights.is_file()
    printed = capsys.readouterr().out
    losses = [float(v) for v in printed.split("loss ")[1].split(";")[0].split(" -> ")]
    assert all(np.isfinite(losses)) and losses[0] > 0
    model, names, trained = load_detector(str(weights))
    assert names == ["red", "green", "blue"] and trained
    assert model.roi_heads.box_predictor.cls_score.out_features == 4

    out = tmp_path / "feats.lmdb"
    code = extract.main(
        [
            "--images",
            str(folder),
            "--output",
            str(out),
            "--format",
            "lmdb",
            "--weights",
            str(weights),
            "--num-boxes",
            "3",
            "--no-progress",
            "--no-fsync",
            *size,
        ]
    )
    assert code == 0
    assert "written 6" in capsys.readouterr().out
    features, info = FeatureReader(str(out), 5).read("img1")
    assert features.shape == (5, 1024) and int(info["num_boxes"]) == 3
    assert set(info["objects"][:3].tolist()) <= {1, 2, 3}


def test_extract_console_script_with_given_boxes_and_resume(tmp_path, image_folder, capsys):
    folder, boxes, labels = image_folder
    annotations = _coco(folder, boxes, labels)
    out = tmp_path / "feats"
    args = [
        "--images",
        str(folder),
        "--output",
        str(out),
        "--boxes",
        str(annotations),
        "--min-size",
        "64",
        "--max-size",
        "64",
        "--no-progress",
        "--no-fsync",
    ]
    first = run_cli(args, tmp_path, command="mmf_imgtune_extract")
    assert first.returncode == 0, first.stderr
    assert "written 6" in first.stdout and "feature dim 128" in first.stdout
    info = FeatureReader(str(out), 2).read("img3")[1]
    assert np.allclose(info["bbox"][0].numpy(), boxes["img3"][0])
    assert extract.main(args) == 0  # the re-run skips every image
    assert "written 0, skipped (already done) 6" in capsys.readouterr().out


def test_extract_cli_reports_bad_option_values(tmp_path, image_folder, capsys):
    folder, _, _ = image_folder
    code = extract.main(
        [
            "--images",
            str(folder),
            "--output",
            str(tmp_path / "o"),
            "--format",
            "hdf5",
            "--no-progress",
        ]
    )
    assert code == 2 and "choose one of" in capsys.readouterr().err
