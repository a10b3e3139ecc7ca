"""``hateful_memes`` on MMF's layout: features (lmdb and npy), images, predictions, errors."""

import os

import pytest
import torch
from mmf_layouts import FEATURE_DIM, collate, load_split, write_hateful_memes, write_jsonl

from mmf_imgtune.io.annotations import AnnotationError

FEATURES = ["dataset_config.hateful_memes.use_features=true",
            "dataset_config.hateful_memes.use_images=false",
            "dataset_config.hateful_memes.max_features=6"]  # fmt: skip


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"  # MMF_DATA_DIR (root conftest)


@pytest.mark.parametrize("fmt", ["lmdb", "npy"])
def test_features_load_and_collate(data_dir, fmt):
    write_hateful_memes(data_dir, features=fmt)
    extra = []
    if fmt == "npy":
        path = "hateful_memes/defaults/features/detectron"
        extra = [f"dataset_config.hateful_memes.features.{s}=[{path}]" for s in ("train", "val")]
    train = load_split("hateful_memes", "train", *FEATURES, *extra)
    assert len(train) == 8
    sample = train[0]
    assert sample.id.item() == 1001 and sample.targets.item() == 1
    assert sample.text == "hate this dog"
    assert sample.input_ids.shape == (8,) and sample.input_ids[1].item() != 1  # not [UNK]
    assert sample.image_feature_0.shape == (6, FEATURE_DIM)
    boxes = int(sample.image_info_0.num_boxes)
    assert boxes == 3 and sample.image_feature_0[boxes:].abs().sum() == 0  # zero padding
    assert sample.image_info_0.bbox.shape == (6, 4)
    batch = collate(train, range(4))
    assert batch.image_feature_0.shape == (4, 6, FEATURE_DIM)
    assert batch.targets.tolist() == [1, 0, 1, 0]
    assert batch.dataset_name == "hateful_memes"
    val = load_split("hateful_memes", "val", *FEATURES, *extra)
    assert [int(val[i].id) for i in range(len(val))] == [1013, 1014, 1015, 1016]  # dev_unseen


def test_images_mode_gives_normalised_3_channel_tensors(data_dir):
    write_hateful_memes(data_dir, features="none")
    overrides = [
        "dataset_config.hateful_memes.processors.image_processor.params.transforms="
        "[ToTensor, GrayScaleTo3Channels, {type: Resize, params: {size: [12, 10]}}]"
    ]
    train = load_split("hateful_memes", "train", *overrides)
    # Index 2 is a grey PNG and index 4 an RGBA one: both come out (3, H, W).
    for index in (0, 2, 4):
        assert train[index].image.shape == (3, 12, 10)
        assert "image_feature_0" not in train[index]
    assert collate(train, range(5)).image.shape == (5, 3, 12, 10)


def test_unlabelled_test_split_and_competition_predictions(data_dir):
    write_hateful_memes(data_dir)
    test = load_split("hateful_memes", "test", *FEATURES)
    sample = test[0]
    assert "targets" not in sample
    batch = collate(test, range(len(test)), "test")
    scores = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0], [-1.0, 1.0]])
    rows = test.format_for_prediction({**batch, "scores": scores})
    assert [r["id"] for r in rows] == batch.id.tolist()
    assert list(rows[0]) == ["id", "proba", "label"]
    assert [r["label"] for r in rows] == [0, 1, 0, 1]
    assert rows[1]["proba"] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item(), abs=1e-6)


def test_missing_annotations_name_path_key_and_source(data_dir):
    with pytest.raises(FileNotFoundError) as error:
        load_split("hateful_memes", "train", *FEATURES)
    message = str(error.value)
    assert os.path.join("hateful_memes", "defaults", "annotations", "train.jsonl") in message
    assert "dataset_config.hateful_memes.annotations.train" in message
    assert "hatefulmemeschallenge.com" in message


def test_malformed_line_names_file_and_line(data_dir):
    root = write_hateful_memes(data_dir)
    path = root / "annotations" / "train.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = '{"id": 3, "img": "img/00003.png", "text": "oops"'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=r"train\.jsonl:3: invalid JSON"):
        load_split("hateful_memes", "train", *FEATURES)
    write_jsonl(path, [{"id": 1, "text": "no image"}])
    with pytest.raises(AnnotationError, match=r"train\.jsonl: record 1 lacks \['img'\]"):
        load_split("hateful_memes", "train", *FEATURES)


def test_missing_features_are_counted_and_can_be_skipped(data_dir):
    root = write_hateful_memes(data_dir, features="npy")
    folder = root / "features" / "detectron"
    for stem in ("01002", "01005", "01007"):
        os.remove(folder / f"{stem}.npy")
    npy = [f"dataset_config.hateful_memes.features.train=[{folder}]"]
    with pytest.raises(KeyError) as error:
        load_split("hateful_memes", "train", *FEATURES, *npy)
    message = str(error.value)
    assert "3 of 8 'train' records" in message and "first ids: 1002, 1005, 1007" in message
    assert "dataset_config.hateful_memes.skip_missing_features=true" in message
    skip = ["dataset_config.hateful_memes.skip_missing_features=true"]
    train = load_split("hateful_memes", "train", *FEATURES, *npy, *skip)
    assert len(train) == 5 and 1002 not in [int(train[i].id) for i in range(5)]


def test_missing_feature_store_and_images_name_their_keys(data_dir):
    write_hateful_memes(data_dir, features="none", images=False)
    with pytest.raises(FileNotFoundError, match=r"dataset_config\.hateful_memes\.features\.train"):
        load_split("hateful_memes", "train", *FEATURES)
    with pytest.raises(FileNotFoundError, match=r"8 of 8 'train' images.*images\.train"):
        load_split("hateful_memes", "train")


def test_lmdb_features_in_dataloader_workers(data_dir):
    """The main process opened the LMDB for the missing-features check; forked workers must
    open their own handle (LMDB refuses to share one across a fork)."""
    from torch.utils.data import DataLoader

    from mmf_imgtune.common.collate import BatchCollator

    write_hateful_memes(data_dir, features="lmdb")
    train = load_split("hateful_memes", "train", *FEATURES)
    train[0]  # the parent reads too, before the fork
    loader = DataLoader(train, batch_size=4, num_workers=2,
                        collate_fn=BatchCollator("hateful_memes", "train"))  # fmt: skip
    ids = [i for batch in loader for i in batch.id.tolist()]
    assert ids == list(range(1001, 1009))
