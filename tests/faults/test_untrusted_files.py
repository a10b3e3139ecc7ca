"""Files that would run code when unpickled are refused wherever data sets read them, with a
message naming the file (and key); nothing they carry ever runs. The checkpoints our own
trainer writes need nothing beyond ``torch.load(weights_only=True)``'s allow-list."""

import os
import pickle

import lmdb
import numpy as np
import pytest
import torch
from mmf_layouts import load_split, write_hateful_memes, write_vqa2_imdb

from mmf_imgtune.config import build_config
from mmf_imgtune.errors import DataError
from mmf_imgtune.trainer import run_training
from mmf_imgtune.utils.testing import TINY_RUN

HM = ["dataset_config.hateful_memes.use_features=true",
      "dataset_config.hateful_memes.use_images=false",
      "dataset_config.hateful_memes.max_features=6"]  # fmt: skip


class _Payload:
    """Unpickling this calls os.system: a real exploit, aimed at a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a planted pickle ran"


def _plant_lmdb(path, key: bytes, value):
    env = lmdb.open(str(path), subdir=True, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(key, pickle.dumps(value))
    env.close()


def test_planted_lmdb_feature_value_is_refused_naming_store_and_key(tmp_path, marker):
    root = write_hateful_memes(tmp_path / "data")
    store = root / "features" / "detectron.lmdb"
    _plant_lmdb(store, b"01002", {"features": np.zeros((2, 16), np.float32), "x": _Payload(marker)})
    train = load_split("hateful_memes", "train", *HM)
    train[0]  # other keys still load
    with pytest.raises(DataError, match=r"detectron\.lmdb.*01002.*refused to unpickle"):
        train[1]


def test_planted_lmdb_key_list_is_refused(tmp_path, marker):
    root = write_hateful_memes(tmp_path / "data")
    _plant_lmdb(root / "features" / "detectron.lmdb", b"keys", [b"01001", _Payload(marker)])
    with pytest.raises(DataError, match=r"detectron\.lmdb.*refused to unpickle"):
        load_split("hateful_memes", "train", *HM)


def test_planted_imdb_annotation_is_refused(tmp_path, marker):
    imdb = write_vqa2_imdb(tmp_path / "data" / "imdb_train.npy")
    entries = list(np.load(imdb, allow_pickle=True))
    entries[2]["question_str"] = _Payload(marker)
    np.save(imdb, np.array(entries, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"imdb_train\.npy.*refused to unpickle"):
        load_split("vqa2", "train", f"dataset_config.vqa2.annotations.train=[{imdb}]")


def test_trainer_checkpoints_need_no_extra_allow_listing(tmp_path):
    """Optimizer, scheduler, early stopping and loop states are plain containers of tensors,
    so resume works under weights_only's own allow-list with nothing added."""
    config = build_config(
        ["model=toy_classifier", "dataset=toy", *TINY_RUN, f"env.save_dir={tmp_path}",
         "training.lr_scheduler=true", "training.early_stop.enabled=true",
         "training.early_stop.criteria=toy/accuracy", "training.early_stop.minimize=false",
         "evaluation.metrics=[accuracy]", "run_type=train_val"]
    )  # fmt: skip
    run_training(config)
    for checkpoint in [tmp_path / "current.ckpt", *sorted((tmp_path / "models").iterdir())]:
        assert torch.serialization.get_unsafe_globals_in_checkpoint(checkpoint) == []
