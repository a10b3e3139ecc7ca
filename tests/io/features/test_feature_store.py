"""FeatureWriter/FeatureReader: both MMF formats, padding, true counts, safety, atomicity."""

import os
import pickle

import lmdb
import numpy as np
import pytest
import torch

from mmf_imgtune.io.features import FeatureReader, FeatureWriter
from mmf_imgtune.utils.safe_pickle import UnsafePickleError


def _record(count: int, dim: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    x1y1 = rng.uniform(0, 50, size=(count, 2))
    bbox = np.concatenate([x1y1, x1y1 + rng.uniform(5, 40, size=(count, 2))], 1)
    info = {
        "bbox": bbox.astype(np.float32),
        "objects": rng.integers(0, 5, size=count),
        "cls_prob": rng.uniform(size=count).astype(np.float32),
        "image_width": 100,
        "image_height": 80,
    }
    return rng.normal(size=(count, dim)).astype(np.float32), info


def _path(tmp_path, fmt):
    return str(tmp_path / ("feats.lmdb" if fmt == "lmdb" else "feats"))


@pytest.mark.parametrize("fmt", ["npy", "lmdb"])
def test_round_trip_pads_and_truncates(tmp_path, fmt):
    path = _path(tmp_path, fmt)
    records = {"a": _record(3, seed=1), "sub/b": _record(7, seed=2)}
    with FeatureWriter(path, format=fmt) as writer:
        for key, (features, info) in records.items():
            writer.write(key, features, info)
    reader = FeatureReader(path, max_features=5)
    assert reader.format == fmt
    assert sorted(reader.keys()) == ["a", "sub/b"]
    assert reader.has("a") and reader.has("sub/b.npy") and not reader.has("c")

    feats, info = reader.read("a")
    assert feats.shape == (5, 6) and feats.dtype == torch.float32
    assert torch.equal(feats[:3], torch.from_numpy(records["a"][0]))
    assert torch.count_nonzero(feats[3:]) == 0
    assert int(info["num_boxes"]) == 3 and info["max_features"] == 3
    assert info["num_boxes"].dtype == torch.long
    assert info["bbox"].shape == (5, 4) and info["boxes_5d"].shape == (5, 5)
    assert torch.allclose(info["bbox"][:3], torch.from_numpy(records["a"][1]["bbox"]))
    box = records["a"][1]["bbox"][0]
    area = (box[2] - box[0]) * (box[3] - box[1]) / (100 * 80)
    expected = torch.tensor([box[0] / 100, box[1] / 80, box[2] / 100, box[3] / 80, area])
    assert torch.allclose(info["boxes_5d"][0], expected)
    assert info["objects"].dtype == torch.long and info["objects"].shape == (5,)
    assert info["image_width"] == 100 and info["image_height"] == 80

    feats, info = reader.read("sub/b")  # 7 boxes truncated to 5
    assert feats.shape == (5, 6) and int(info["num_boxes"]) == 5 and info["max_features"] == 5
    assert torch.equal(feats, torch.from_numpy(records["sub/b"][0][:5]))


@pytest.mark.parametrize("fmt", ["npy", "lmdb"])
def test_writer_resumes_and_reports_existing(tmp_path, fmt):
    path = _path(tmp_path, fmt)
    with FeatureWriter(path, format=fmt) as writer:
        writer.write("a", *_record(2))
    writer = FeatureWriter(path, format=fmt)
    assert writer.exists("a") and not writer.exists("b")
    writer.write("b", *_record(4))
    writer.close()
    assert sorted(FeatureReader(path, max_features=4).keys()) == ["a", "b"]


def test_npy_interrupted_write_leaves_no_complete_key(tmp_path):
    path = tmp_path / "feats"
    with FeatureWriter(str(path)) as writer:
        writer.write("done", *_record(2))
    # A writer killed after the feature file but before the info file, plus a stale temp
    # file of a dead process: neither counts as written.
    np.save(path / "half.npy", np.zeros((2, 6), np.float32))
    stale = path / "other.npy.tmp-999999999"
    stale.write_bytes(b"partial")
    writer = FeatureWriter(str(path))
    assert writer.exists("done") and not writer.exists("half")
    assert not stale.exists()
    assert FeatureReader(str(path), max_features=2).keys() == ["done"]


def test_lmdb_uncommitted_writes_are_not_visible(tmp_path):
    path = str(tmp_path / "f.lmdb")
    writer = FeatureWriter(path, format="lmdb")
    writer.store.commit_every = 2
    for key in "abc":
        writer.write(key, *_record(2))
    writer.store._env.close()  # simulate a crash: "c" was never committed
    assert FeatureReader(path, max_features=2).keys() == ["a", "b"]
    writer = FeatureWriter(path, format="lmdb")
    assert writer.exists("b") and not writer.exists("c")
    writer.close()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_crafted_pickle_in_info_npy_is_refused(tmp_path):
    path = tmp_path / "feats"
    path.mkdir()
    np.save(path / "x.npy", np.zeros((1, 4), np.float32))
    with open(path / "x_info.npy", "wb") as handle:
        np.save(handle, np.array({"bbox": _Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(UnsafePickleError, match="refused to unpickle 'posix.system'.*trust"):
        FeatureReader(str(path), max_features=2).read("x")


def test_crafted_pickle_in_lmdb_value_is_refused(tmp_path):
    path = str(tmp_path / "evil.lmdb")
    env = lmdb.open(path, subdir=True, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"keys", pickle.dumps([b"x"]))
        txn.put(b"x", pickle.dumps({"features": np.zeros((1, 4)), "bbox": _Evil()}))
    env.close()
    reader = FeatureReader(path, max_features=2)
    assert reader.keys() == ["x"]
    with pytest.raises(UnsafePickleError, match="only numpy arrays and plain"):
        reader.read("x")


def test_missing_key_and_bad_format_messages(tmp_path):
    path = str(tmp_path / "feats")
    FeatureWriter(path).close()
    with pytest.raises(KeyError, match="mmf_imgtune_extract"):
        FeatureReader(path, max_features=2).read("nope")
    with pytest.raises(ValueError, match="choose one of"):
        FeatureWriter(path, format="h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FeatureReader(str(tmp_path / "missing"), max_features=2)


def test_fast_npy_reader_matches_numpy(tmp_path):
    from mmf_imgtune.io.features.npy_format import read_npy

    plain = np.arange(12, dtype=np.float32).reshape(3, 4)
    fortran = np.asfortranarray(plain)  # not matched by the fast header path: numpy fallback
    for name, array in {"plain": plain, "fortran": fortran, "ints": plain.astype(">i8")}.items():
        np.save(tmp_path / f"{name}.npy", array)
        loaded = read_npy(str(tmp_path / f"{name}.npy"))
        assert loaded.dtype == array.dtype and np.array_equal(loaded, array)
    np.save(tmp_path / "info.npy", np.array({"bbox": plain, "n": 3}, dtype=object))
    info = read_npy(str(tmp_path / "info.npy"))
    assert info["n"] == 3 and np.array_equal(info["bbox"], plain)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "info.npy").read_bytes()[:-20])
    with pytest.raises(UnsafePickleError, match="not a readable pickle"):
        read_npy(str(tmp_path / "cut.npy"))
