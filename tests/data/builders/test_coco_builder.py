"""``coco`` captions on the Karpathy split: one sample per caption in train, all references
per image in val/test, and the reference lists the caption metrics need."""

import pytest
from mmf_layouts import CAPTIONS, collate, load_split, write_coco_karpathy

from mmf_imgtune.io.annotations import AnnotationError

NPY = [f"dataset_config.coco.features.{s}=[coco/defaults/features/trainval2014]"
       for s in ("train", "val", "test")]  # fmt: skip
SMALL = ["dataset_config.coco.max_features=5", *NPY]


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_karpathy_splits_captions_and_features(data_dir):
    write_coco_karpathy(data_dir)
    train = load_split("coco", "train", *SMALL)
    assert len(train) == 3 * 5  # train + restval images, one sample per reference
    sample = train[1]
    assert sample.id.item() == 184613 and sample.text == "a picture of"
    assert len(sample.captions) == 5 and sample.captions[1] == CAPTIONS[1].capitalize() + "."
    assert sample.image_feature_0.shape == (5, 16)
    val, test = load_split("coco", "val", *SMALL), load_split("coco", "test", *SMALL)
    assert [int(val[i].id) for i in range(len(val))] == [397133, 37777]
    assert [int(test[i].id) for i in range(len(test))] == [391895, 522418]
    batch = collate(test, [0, 1], "test")
    assert len(batch.captions) == 2 and all(len(refs) == 5 for refs in batch.captions)
    rows = test.format_for_prediction({**batch, "generated_text": ["a cat", "a dog"]})
    assert rows == [{"image_id": 391895, "caption": "a cat"},
                    {"image_id": 522418, "caption": "a dog"}]  # fmt: skip
    with pytest.raises(KeyError, match="generated_text"):
        test.format_for_prediction(dict(batch))


def test_image_mode_reads_filepath_and_filename(data_dir):
    write_coco_karpathy(data_dir, images=True)
    overrides = [
        "dataset_config.coco.use_features=false",
        "dataset_config.coco.use_images=true",
        "dataset_config.coco.processors.image_processor.params.transforms="
        "[ToTensor, GrayScaleTo3Channels, {type: Resize, params: {size: [8, 8]}}]",
    ]
    assert collate(load_split("coco", "val", *overrides), [0, 1]).image.shape == (2, 3, 8, 8)


def test_not_a_karpathy_file_and_empty_split(data_dir):
    root = write_coco_karpathy(data_dir)
    with pytest.raises(AnnotationError, match="karpathy_splits.val"):
        load_split("coco", "val", *SMALL, "dataset_config.coco.karpathy_splits.val=[nothing]")
    (root / "annotations" / "dataset_coco.json").write_text('{"annotations": []}')
    with pytest.raises(AnnotationError, match="dataset_coco.json: not a Karpathy split json"):
        load_split("coco", "val", *SMALL)
