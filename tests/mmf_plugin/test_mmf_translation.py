"""The MMF translation layer without MMF: batch fields, metric adapters, config paths, names,
the import shims and the shared LMDB environment."""

from __future__ import annotations

import importlib
import pickle
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.io.features.info import pad_region_sample
from mmf_imgtune.registry import registry
from mmf_imgtune_mmf import config_paths, metric_adapter, names
from mmf_imgtune_mmf.translate import box_counts, imgtune_batch, mmf_sample_fields


def _mmf_style_batch(counts, width=5, dim=4, seed=0):
    """An MMF ``SampleList`` as its LMDB reader and collation leave it: padded features, a
    list of unpadded (N_i, 4) boxes, a list of ints for sizes, ``max_features`` (B,) counts."""
    rng = np.random.default_rng(seed)
    boxes = [rng.uniform(0, 20, (n, 4)).astype(np.float32) for n in counts]
    for b in boxes:
        b[:, 2:] = b[:, :2] + 5
    return {
        "image_feature_0": torch.randn(len(counts), width, dim),
        "image_info_0": {
            "bbox": boxes,
            "max_features": torch.tensor(counts),
            "image_width": [40] * len(counts),
            "image_height": [30] * len(counts),
            "objects": [np.arange(1, n + 1) for n in counts],
        },
        "dataset_name": "hateful_memes",
        "dataset_type": "train",
    }, boxes


def test_mmf_reader_fields_become_imgtune_fields():
    batch, boxes = _mmf_style_batch([3, 7])  # 7 stored boxes, 5 padded rows
    out = imgtune_batch(batch)
    info = out["image_info_0"]
    assert info["num_boxes"].tolist() == [3, 5], "count must be clipped to the padded rows"
    assert info["boxes_5d"].shape == (2, 5, 5) and info["objects"].shape == (2, 5)
    # Same geometry as our own reader computes from the same stored image.
    _, ours = pad_region_sample(np.zeros((7, 4), np.float32), {
        "bbox": boxes[1], "image_width": 40, "image_height": 30}, 5)  # fmt: skip
    assert torch.allclose(info["boxes_5d"][1], ours["boxes_5d"])
    assert info["boxes_5d"][0, 3:].abs().sum() == 0, "padding rows must stay zero"
    assert info["objects"][0].tolist() == [1, 2, 3, 0, 0]
    assert out["dataset_name"] == "hateful_memes" and out["image_feature_0"] is batch[
        "image_feature_0"]  # fmt: skip


def test_imgtune_reader_fields_pass_through_unchanged():
    samples = []
    for n in (2, 4):
        feats, info = pad_region_sample(
            np.ones((n, 3), np.float32), {"bbox": np.tile([1.0, 2.0, 5.0, 6.0], (n, 1)),
                                          "image_width": 10, "image_height": 10}, 4)  # fmt: skip
        samples.append(Sample({"image_feature_0": feats, "image_info_0": info}))
    batch = SampleList(samples)
    info = imgtune_batch(batch)["image_info_0"]
    assert info["num_boxes"].tolist() == [2, 4]
    assert torch.equal(info["boxes_5d"], batch["image_info_0"]["boxes_5d"])


def test_our_items_carry_mmf_max_features_tensor():
    feats, info = pad_region_sample(np.ones((3, 2), np.float32), {}, 4)
    item = mmf_sample_fields({"image_feature_0": feats, "image_info_0": info, "id": 7})
    assert item["image_info_0"]["max_features"].dtype == torch.long
    assert int(item["image_info_0"]["max_features"]) == 3 and info["max_features"] == 3
    batch = SampleList([Sample(item), Sample(item)])
    assert batch["image_info_0"]["max_features"].tolist() == [3, 3]


def test_box_counts_prefer_num_boxes_and_default_to_all_rows():
    assert box_counts({"num_boxes": [1, 9]}, 2, 4).tolist() == [1, 4]
    assert box_counts({}, 3, 6).tolist() == [6, 6, 6]
    with pytest.raises(ValueError, match="2 items for a batch of 3"):
        box_counts({"num_boxes": [1, 2]}, 3, 4)


@pytest.mark.parametrize("name", ["accuracy", "roc_auc", "vqa_accuracy"])
def test_metric_adapter_equals_our_metric_over_the_whole_split(name):
    torch.manual_seed(0)
    if name == "vqa_accuracy":
        scores, targets = torch.randn(40, 6), torch.rand(40, 6).round()
    else:
        scores, targets = torch.randn(40, 2), torch.randint(0, 2, (40,))
    ours = registry.get_metric_class(name)()
    for part in range(4):  # our trainer: batch by batch
        piece = slice(10 * part, 10 * part + 10)
        ours.update({"targets": targets[piece]}, {"scores": scores[piece]})
    report = {"scores": scores, "targets": targets}  # MMF: one combined report
    assert metric_adapter.calculate(name, report).item() == pytest.approx(ours.compute())


def test_text_metric_adapter_reads_generated_text_and_answers():
    report = {"generated_text": ["red", "2", "blue"], "answers": [["red"] * 10, ["2"] * 10,
                                                                    ["green"] * 10]}  # fmt: skip
    assert metric_adapter.calculate("generation_vqa_accuracy", report).item() == pytest.approx(
        2 / 3
    )
    assert set(metric_adapter.REQUIRED_PARAMS) >= set(metric_adapter.adapted_names())


def test_mmf_names_do_not_collide_with_mmf_builtins():
    assert names.collisions() == []
    for ours in names.BUILDERS:
        assert ours in registry.names("builder"), f"{ours} is not one of our builders"
    for ours in names.PROCESSORS:
        assert ours in registry.names("processor")
    assert all(metric_adapter.PREFIX + m not in names.MMF_BUILTINS["metric"]
               for m in metric_adapter.adapted_names())  # fmt: skip


def test_config_paths_are_absolute_and_rekeyed(tmp_path, monkeypatch):
    monkeypatch.setenv("MMF_IMGTUNE_CONFIG_CACHE", str(tmp_path))
    path = config_paths.absolute_config_path("configs/datasets/hateful_memes/defaults.yaml")
    assert path.startswith(str(config_paths.REPO_ROOT)) and path.endswith("defaults.yaml")
    rekeyed = config_paths.rekeyed_dataset_yaml(path, "hateful_memes", "imgtune_hateful_memes")
    loaded = OmegaConf.load(rekeyed)
    assert list(loaded.dataset_config) == ["imgtune_hateful_memes"]
    assert loaded.dataset_config.imgtune_hateful_memes == OmegaConf.load(path).dataset_config[
        "hateful_memes"]  # fmt: skip
    assert (
        config_paths.rekeyed_dataset_yaml(path, "hateful_memes", "imgtune_hateful_memes") == rekeyed
    )
    with pytest.raises(FileNotFoundError, match="configs/nope.yaml"):
        config_paths.absolute_config_path("configs/nope.yaml")
    with pytest.raises(KeyError, match="dataset_config.coco"):
        config_paths.rekeyed_dataset_yaml(path, "coco", "imgtune_coco")


def test_model_defaults_for_mmf_include_imgtune_defaults():
    path = config_paths.absolute_config_path("mmf_imgtune_mmf/configs/imgtune.yaml")
    config = OmegaConf.load(path)
    (include,) = config.includes
    included = config_paths.REPO_ROOT / "mmf_imgtune_mmf" / "configs" / include
    assert OmegaConf.load(included).model_config.imgtune.task == "generation"


def test_shims_stub_only_missing_modules(monkeypatch):
    import mmf_imgtune_shims

    for name in ("torchtext", "torchtext.vocab", "torchaudio", "torchaudio.transforms"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    real = {n for n in ("torchtext", "torchaudio") if importlib.util.find_spec(n) is not None}
    mmf_imgtune_shims.install()
    import torchvision.io

    assert callable(torchvision.io.read_video)
    if "torchtext" not in real:
        from torchtext import vocab

        with pytest.raises(KeyError, match="glove.6B.300d"):
            vocab.pretrained_aliases["glove.6B.300d"]
        assert importlib.util.find_spec("torchtext") is not None  # transformers' check works
    if "torchaudio" not in real:
        from torchaudio import transforms

        assert getattr(transforms, "MelSpectrogram", None) is None


def test_shared_lmdb_opens_one_file_twice_read_only(tmp_path):
    import lmdb

    from mmf_imgtune_mmf.lmdb_compat import SharedLmdb

    path = str(tmp_path / "f.lmdb")
    env = lmdb.open(path, map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"keys", pickle.dumps([b"a"]))
    env.close()
    shim = SharedLmdb()
    options = dict(subdir=True, readonly=True, lock=False, readahead=False, meminit=False)
    first, second = shim.open(path, **options), shim.open(path, **options)
    assert first is second, "train and val readers of one file must share the environment"
    with second.begin() as txn:
        assert pickle.loads(txn.get(b"keys")) == [b"a"]
    assert shim.Error is lmdb.Error
