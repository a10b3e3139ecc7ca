"""The ``shapes`` builder: generation + region features in build, samples and batches in load."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mmf_imgtune.common.collate import BatchCollator
from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.data.shapes import ANSWERS, all_words, load_split
from mmf_imgtune.data.shapes.features import feature_dir
from mmf_imgtune.data.tokenizers import split_words

pytestmark = pytest.mark.slow  # extracts real MobileNetV2 features (a few seconds)

MAX_FEATURES, DIM = 8, 1280  # yaml default; ImageNet MobileNetV2 pooled layer


def batch_of(dataset, size: int = 4) -> SampleList:
    loader = DataLoader(dataset, batch_size=size, collate_fn=BatchCollator("shapes", "train"))
    return next(iter(loader))


def check_regions(batch: SampleList, records: dict, size: int) -> None:
    assert batch.image_feature_0.shape == (size, MAX_FEATURES, DIM)
    info = batch.image_info_0
    assert info.bbox.shape == (size, MAX_FEATURES, 4)
    assert info.boxes_5d.shape == (size, MAX_FEATURES, 5)
    for row, path in enumerate(batch.image_path):
        record = records[path.rsplit("/", 1)[-1][: -len(".png")]]
        count = len(record["objects"])
        assert int(info.num_boxes[row]) == count
        boxes = np.array([o["bbox"] for o in record["objects"]], dtype=np.float32)
        np.testing.assert_allclose(info.bbox[row, :count].numpy(), boxes, atol=1e-3)
        # Class ids come from the ground truth (the ImageNet extractor has no classes).
        assert info.objects[row, :count].tolist() == [o["label"] for o in record["objects"]]
        assert torch.all(batch.image_feature_0[row, count:] == 0)  # padding
        assert torch.all(batch.image_feature_0[row, :count].abs().sum(-1) > 0)


def records_by_key(config, split):
    return {r["feature_key"]: r for r in load_split(str(config.data_dir), split)}


def test_vqa_samples_and_batches(built):
    config, builder = built
    dataset = builder.load(config, "train")
    sample = dataset[0]
    for field in ("input_ids", "input_mask", "segment_ids", "text", "targets", "answers", "id",
                  "question_family", "image_feature_0", "image_info_0", "image_path"):  # fmt: skip
        assert field in sample, field
    assert sample.targets.shape == (config.num_answers,) == (len(ANSWERS),)
    assert sample.targets.max() == 1.0 and sample.targets.sum() == 1.0
    assert ANSWERS[int(sample.targets.argmax())] == sample.answers[0]
    batch = batch_of(dataset)
    assert batch.dataset_name == "shapes" and batch.input_ids.shape == (4, 40)
    assert batch.targets.shape == (4, len(ANSWERS)) and batch.id.dtype == torch.long
    check_regions(batch, records_by_key(config, "train"), 4)
    rows = dataset.format_for_prediction({"scores": batch.targets, "id": batch.id})
    assert [r["answer"] for r in rows] == [a[0] for a in batch.answers]
    assert [r["question_id"] for r in rows] == batch.id.tolist()


def test_classification_samples(built):
    config, builder = built
    config = config.copy()
    config.task = "classification"
    dataset = builder.load(config, "val")
    batch = batch_of(dataset, 6)
    assert batch.targets.dtype == torch.long and batch.targets.shape == (6,)
    assert set(batch.targets.tolist()) <= {0, 1}
    total = sum(int(dataset[i].targets) for i in range(len(dataset)))
    assert total * 2 == len(dataset)  # balanced
    check_regions(batch, records_by_key(config, "val"), 6)


def test_caption_and_retrieval_samples(built):
    config, builder = built
    config = config.copy()
    config.task = "caption"
    train, val = builder.load(config, "train"), builder.load(config, "val")
    assert len(train) == config.sizes.train
    sample = val[2]
    assert sample.text == config.caption_prompt and len(sample.captions) >= 4
    # The caption answer: first reference in val, a (seed, epoch, index) draw in train.
    assert val.records[2]["captions"][0] in sample.captions
    texts = lambda dataset: [dataset._caption(dataset.records[i], i) for i in range(8)]  # noqa: E731
    first = texts(train)
    assert first == texts(train)
    train.set_epoch(1)
    assert first != texts(train)
    batch = batch_of(val, 3)
    assert isinstance(batch.captions, list) and len(batch.captions) == 3
    config.task = "retrieval"
    retrieval = builder.load(config, "test")
    batch = batch_of(retrieval, 6)
    assert batch.targets.tolist() == list(range(6))
    assert batch.text == [c[0] for c in batch.captions]


def test_every_text_tokenizes_without_unknown_words(built):
    config, builder = built
    yaml_words = set(config.processors.text_processor.params.tokenizer.word_level.words)
    assert set(all_words()) <= yaml_words
    dataset = builder.load(config, "train")
    unk = dataset.text_processor.tokenizer.unk_token_id
    for record in dataset.records:
        texts = record["captions"] + [q["question"] for q in record["questions"]]
        texts += [s["statement"] for s in record["statements"]] + [config.caption_prompt]
        texts += [q["answer"] for q in record["questions"]]
        for text in texts:
            assert set(split_words(text)) <= yaml_words, text
            ids = dataset.text_processor({"text": text})["input_ids"]
            assert unk not in ids.tolist() and ids[-1] == 0, text  # no unknowns, not truncated


def test_build_twice_is_a_no_op(built, monkeypatch):
    config, builder = built
    import mmf_imgtune.regions as regions

    def fail(*args, **kwargs):
        raise AssertionError("features were complete; extract_features must not run")

    monkeypatch.setattr(regions, "extract_features", fail)
    builder.build(config, "train", progress=False)
    assert len(list(Path(feature_dir(config)).glob("train_*_info.npy"))) == 16


def test_bad_task_and_missing_split_are_explained(built):
    config, builder = built
    config = config.copy()
    config.task = "vqa2"
    with pytest.raises(ValueError, match="dataset_config.shapes.task='vqa2'"):
        builder.load(config, "train")
    config.task = "vqa"
    with pytest.raises(KeyError, match="sizes has no split 'dev'"):
        builder.build(config, "dev")


def test_load_before_build_says_what_to_run(tmp_path):
    from shapes_helpers import tiny_config

    from mmf_imgtune.data.builders.shapes import ShapesBuilder
    from mmf_imgtune.data.shapes import SplitSettings, generate_split

    config = tiny_config(tmp_path)
    with pytest.raises(FileNotFoundError, match="shapes split 'val' is not generated"):
        ShapesBuilder().load(config, "val")
    generate_split(str(tmp_path), SplitSettings("val", 2, 0, 64, 1, 6), progress=False)
    with pytest.raises(FileNotFoundError, match="not generated with these settings"):
        ShapesBuilder().load(config, "val")  # sizes.val is 6, not 2
    generate_split(str(tmp_path), SplitSettings("val", 6, 0, 64, 1, 6), progress=False)
    with pytest.raises(FileNotFoundError, match="no complete region features of 'val'"):
        ShapesBuilder().load(config, "val")
    config.use_features = False  # generated data without features loads
    assert ShapesBuilder().load(config, "val")[0].image_path.endswith("val_000000.png")


def test_regenerated_split_gets_fresh_features(tmp_path):
    from shapes_helpers import tiny_config

    from mmf_imgtune.data.builders.shapes import ShapesBuilder

    config = tiny_config(tmp_path, **{"sizes.train": 3})
    builder = ShapesBuilder()
    builder.build(config, "train", progress=False)
    config.sizes.train, config.seed = 2, 5  # another generation of the split
    builder.build(config, "train", progress=False)
    folder = Path(feature_dir(config))
    assert sorted(p.name for p in folder.glob("train_*_info.npy")) == [
        "train_000000_info.npy",
        "train_000001_info.npy",
    ]
    dataset = builder.load(config, "train")
    check_regions(batch_of(dataset, 2), records_by_key(config, "train"), 2)
