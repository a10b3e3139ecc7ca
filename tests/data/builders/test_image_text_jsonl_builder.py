"""``image_text_jsonl``: a folder of images + jsonl; features extracted on first use."""

import json
import os

import pytest
from mmf_layouts import collate, load_split, write_image, write_jsonl

from mmf_imgtune.io.annotations import AnnotationError

NAME = "image_text_jsonl"
# A random-weight detector on tiny inputs: no download, a second or two on a CPU.
EXTRACT = [f"dataset_config.{NAME}.extract.weights=random",
           f"dataset_config.{NAME}.extract.num_boxes=3",
           f"dataset_config.{NAME}.extract.min_size=32",
           f"dataset_config.{NAME}.extract.max_size=48",
           f"dataset_config.{NAME}.extract.progress=false",
           f"dataset_config.{NAME}.max_features=4"]  # fmt: skip


def write_folder(data_dir, target="label"):
    root = data_dir / "datasets" / NAME
    records = []
    for index in range(4):
        image = f"{'cats' if index % 2 else 'dogs'}/{index:03d}.png"
        write_image(root / "images" / image, index)
        record = {"image": image, "text": "a cat" if index % 2 else "a dog"}
        if target == "label":
            record["label"] = index % 2
        elif target == "answers":
            record["answers"] = ["cat"] * 3 if index % 2 else ["dog", "dog", "a dog"]
        else:
            record["caption"] = ["a cat on a man", "a cat"] if index % 2 else "a dog"
        records.append(record)
    for split in ("train", "val"):
        write_jsonl(root / f"{split}.jsonl", records)
    return root


def test_features_extracted_once_then_loaded(data_dir_env):
    root = write_folder(data_dir_env)
    train = load_split(NAME, "train", *EXTRACT)
    assert os.path.isfile(root / "features" / "cats" / "001.npy")  # key = path minus extension
    sample = train[1]
    assert sample.targets.item() == 1 and sample.id == "train_1"
    assert sample.image_feature_0.shape[0] == 4 and int(sample.image_info_0.num_boxes) == 3
    assert collate(train, range(4)).image_feature_0.shape[:2] == (4, 4)
    stamp = os.path.getmtime(root / "features" / "cats" / "001.npy")
    load_split(NAME, "val", *EXTRACT)  # same images: nothing re-extracted
    assert os.path.getmtime(root / "features" / "cats" / "001.npy") == stamp


@pytest.mark.parametrize("target", ["answers", "caption"])
def test_answers_and_caption_targets(data_dir_env, target):
    write_folder(data_dir_env, target)
    images = [f"dataset_config.{NAME}.use_features=false", f"dataset_config.{NAME}.use_images=true",
              f"dataset_config.{NAME}.num_answers=3"]  # fmt: skip
    train = load_split(NAME, "train", *images)
    assert train[0].image.shape == (3, 224, 224)
    if target == "answers":
        # vocab: cat, dog (6 votes each: "a dog" counts as "dog"; ties alphabetical)
        assert train[0].targets.tolist() == [0.0, 1.0, 0.0]
        assert train[1].targets.tolist() == [1.0, 0.0, 0.0] and train[1].answers == ["cat"] * 3
    else:
        assert train[1].captions == ["a cat on a man", "a cat"] and train[0].captions == ["a dog"]


def test_mixed_targets_and_missing_fields_fail(data_dir_env):
    root = write_folder(data_dir_env)
    write_jsonl(root / "train.jsonl", [{"image": "a.png", "text": "x", "label": 1},
                                       {"image": "b.png", "text": "y", "caption": "z"}])  # fmt: skip
    with pytest.raises(AnnotationError, match="mix target kinds"):
        load_split(NAME, "train", f"dataset_config.{NAME}.use_features=false")
    write_jsonl(root / "train.jsonl", [{"image": "a.png", "label": 1}])
    with pytest.raises(AnnotationError, match=r"train\.jsonl:1: a line needs 'image' and 'text'"):
        load_split(NAME, "train", f"dataset_config.{NAME}.use_features=false")


@pytest.fixture
def data_dir_env(tmp_path):
    return tmp_path / "data"


def test_lmdb_store_gets_only_the_missing_images(data_dir_env):
    root = write_folder(data_dir_env)
    lmdb = [f"dataset_config.{NAME}.extract.format=lmdb"] + [
        f"dataset_config.{NAME}.features.{s}=[{NAME}/features.lmdb]" for s in ("train", "val")
    ]
    assert len(load_split(NAME, "train", *EXTRACT, *lmdb)) == 4
    # val adds two images the store lacks: build appends them to the same LMDB.
    write_image(root / "images" / "new" / "a.png", 7)
    write_image(root / "images" / "new" / "b.png", 8)
    extra = [{"image": f"new/{n}.png", "text": "a cat", "label": 1} for n in "ab"]
    write_jsonl(
        root / "val.jsonl", [{"image": "cats/001.png", "text": "a cat", "label": 1}, *extra]
    )
    val = load_split(NAME, "val", *EXTRACT, *lmdb)
    assert [int(val[i].image_info_0.num_boxes) for i in range(3)] == [3, 3, 3]
    from mmf_imgtune.data.annotated import feature_reader  # the process's open handle

    assert len(feature_reader(str(root / "features.lmdb"), 4).keys()) == 6


SMALL_INPUT = [f"dataset_config.{NAME}.extract.min_size=32",
               f"dataset_config.{NAME}.extract.max_size=48",
               f"dataset_config.{NAME}.extract.progress=false",
               f"dataset_config.{NAME}.max_features=20"]  # fmt: skip


def test_default_extraction_is_a_grid_and_a_changed_layer_fails(data_dir_env, capsys):
    from mmf_imgtune.io.features.provenance import read_record
    from mmf_imgtune.regions import ExtractionMismatchError

    root = write_folder(data_dir_env)
    train = load_split(NAME, "train", *SMALL_INPUT)
    lines = [x for x in capsys.readouterr().out.splitlines() if "regions:" in x]
    assert len(lines) == 1 and "whole image + 4x4 grid" in lines[0]
    assert int(train[0].image_info_0.num_boxes) == 17
    assert train[0].image_feature_0.shape == (20, 128)
    record = read_record(str(root / "features"))
    assert record["box_sources"] == {"grid": {"grid": 4, "images": 4}}
    with pytest.raises(ExtractionMismatchError) as error:
        load_split(NAME, "val", *SMALL_INPUT, f"dataset_config.{NAME}.extract.layer=pooled")
    message = str(error.value)
    assert f"dataset_config.{NAME}.extract does not match" in message
    assert f"dataset_config.{NAME}.features.val" in message and "layer='mid'" in message


def test_boxes_from_the_lines_and_a_grid_for_the_rest(data_dir_env):
    root = write_folder(data_dir_env)
    records = [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines()]
    records[0]["boxes"] = [[1, 1, 10, 10], [2, 3, 12, 14]]
    write_jsonl(root / "train.jsonl", records)
    train = load_split(NAME, "train", *SMALL_INPUT, f"dataset_config.{NAME}.extract.boxes=annotations",
                       f"dataset_config.{NAME}.extract.grid=2")  # fmt: skip
    assert int(train[0].image_info_0.num_boxes) == 2
    assert train[0].image_info_0.bbox[1].tolist() == [2, 3, 12, 14]
    assert [int(train[i].image_info_0.num_boxes) for i in (1, 2, 3)] == [5, 5, 5]
    records[1]["boxes"] = [[1, 2, 3]]
    write_jsonl(root / "train.jsonl", records)
    with pytest.raises(AnnotationError, match=r"train\.jsonl:2: 'boxes' must be"):
        load_split(NAME, "train", f"dataset_config.{NAME}.use_features=false")
