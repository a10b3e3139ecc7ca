"""Builders with MMF's precomputed features can extract their own (``extract.enabled``): given
boxes from a COCO file matched by image name, a grid for the rest; the store's record holds."""

import json

from mmf_layouts import load_split, write_coco_karpathy, write_hateful_memes

from mmf_imgtune.io.features.provenance import read_record

SMALL = ["extract.enabled=true", "extract.min_size=32", "extract.max_size=32",
         "extract.progress=false", "extract.grid=2", "max_features=5"]  # fmt: skip


def overrides(dataset: str, *extra: str) -> list[str]:
    return [f"dataset_config.{dataset}.{o}" for o in (*SMALL, *extra)]


def test_hateful_memes_extracts_from_its_images_with_given_boxes(tmp_path):
    root = write_hateful_memes(tmp_path / "data", features="none")
    # COCO-format boxes for one meme; file_name without the img/ folder still matches.
    coco = {"images": [{"id": 7, "file_name": "01001.png"}],
            "annotations": [{"id": 1, "image_id": 7, "bbox": [1, 1, 5, 6]}]}  # fmt: skip
    (root / "boxes.json").write_text(json.dumps(coco))
    train = load_split("hateful_memes", "train", "dataset_config.hateful_memes.use_features=true",
                       *overrides("hateful_memes", "extract.boxes=hateful_memes/defaults/boxes.json"))  # fmt: skip
    info = {int(s.id): s.image_info_0 for s in (train[i] for i in range(len(train)))}
    assert int(info[1001]["num_boxes"]) == 1 and info[1001]["bbox"][0].tolist() == [1, 1, 6, 7]
    assert {int(i["num_boxes"]) for k, i in info.items() if k != 1001} == {5}
    record = read_record(str(root / "features" / "detectron.lmdb"))
    assert record["box_sources"] == {"given": {"images": 1}, "grid": {"grid": 2, "images": 7}}


def test_coco_and_a_store_of_its_own(tmp_path):
    root = write_coco_karpathy(tmp_path / "data", images=True)
    store = "coco/defaults/features/grid.lmdb"
    paths = [f"features.{s}=[{store}]" for s in ("train", "val", "test")]
    test = load_split("coco", "test", *overrides("coco", *paths))
    assert len(test) == 2 and int(test[0].image_info_0.num_boxes) == 5
    assert test[0].image_feature_0.shape == (5, 128)
    assert read_record(str(root / "features" / "grid.lmdb"))["layer"] == "mid"


def test_vqa2_extracts_the_images_its_questions_name(tmp_path):
    from mmf_layouts import VQA_IMAGES, write_image, write_vqa2

    root = write_vqa2(tmp_path / "data")
    for index, image_id in enumerate(VQA_IMAGES["val"]):
        write_image(root / "images" / "val2014" / f"COCO_val2014_{image_id:012d}.jpg", index)
    store = "vqa2/defaults/features/val_grid"
    val = load_split("vqa2", "val", "dataset_config.vqa2.num_answers=6",
                     *overrides("vqa2", "extract.format=npy", f"features.val=[{store}]"))  # fmt: skip
    assert {int(val[i].image_info_0.num_boxes) for i in range(len(val))} == {5}
    assert sorted(p.stem for p in (root / "features" / "val_grid").glob("*_info.npy")) == [
        f"{image_id}_info" for image_id in sorted(VQA_IMAGES["val"])
    ]
