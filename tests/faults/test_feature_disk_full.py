"""A full disk while writing region features: the writer stops naming the store and the key,
and everything written before stays readable (the extractor then resumes from it)."""

import sys

import numpy as np
import pytest

from mmf_imgtune.io.features import FeatureReader, FeatureWriteError, FeatureWriter


@pytest.mark.parametrize("fmt", ["npy", "lmdb"])
def test_feature_writer_disk_full_stops_clearly_and_keeps_written_keys(tmp_path, fmt, monkeypatch):
    path = tmp_path / ("features.lmdb" if fmt == "lmdb" else "features")
    bbox = np.zeros((2, 4), np.float32)
    info = {"bbox": bbox, "image_width": 8, "image_height": 8}
    writer = FeatureWriter(str(path), format=fmt)
    writer.write("kept", np.ones((2, 4), np.float32), info)
    if fmt == "lmdb":
        writer.store.flush()  # committed: the next failure must not touch it
    full = OSError(28, "No space left on device")

    def no_space(*args, **kwargs):
        raise full

    target = writer.store if fmt == "lmdb" else sys.modules[type(writer.store).__module__]
    monkeypatch.setattr(target, "flush" if fmt == "lmdb" else "atomic_save", no_space)
    with pytest.raises(FeatureWriteError, match=r"no space left .*keys written before are"):
        writer.write("lost", np.ones((2, 4), np.float32), info)
        writer.close()
    monkeypatch.undo()
    reader = FeatureReader(str(path), max_features=2)
    assert reader.keys() == ["kept"] and reader.read("kept")[0].sum() == 8
