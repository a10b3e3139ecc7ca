"""Property-based fuzzing of the region feature readers (npy folder and LMDB): random bytes
and random pickled values end in a valid sample or the project's own ``DataError``."""

import pickle
import tempfile
from pathlib import Path

import lmdb
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmf_imgtune.errors import DataError
from mmf_imgtune.io.features import FeatureReader

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 50)
    | st.floats(allow_nan=False, width=32)
    | st.text(max_size=4)
    | st.builds(lambda n: np.zeros((n, 4), np.float32), st.integers(0, 3)),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "bbox",
                    "num_boxes",
                    "image_width",
                    "image_height",
                    "objects",
                    "cls_prob",
                    "features",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=10,
)


def _check(reader, key):
    try:
        features, info = reader.read(key)
    except DataError as error:
        assert key in str(error) or reader.path in str(error)
        return
    assert features.shape[0] == 4 and int(info["num_boxes"]) <= 4


@FUZZ
@given(feature_bytes=st.binary(max_size=200), info_bytes=st.binary(max_size=200))
def test_npy_reader_on_random_bytes(tmp_path, feature_bytes, info_bytes):
    (tmp_path / "img.npy").write_bytes(feature_bytes)
    (tmp_path / "img_info.npy").write_bytes(info_bytes)
    _check(FeatureReader(str(tmp_path), max_features=4), "img")


@FUZZ
@given(
    features=st.builds(
        lambda n, d: np.ones((n, d), np.float32), st.integers(0, 6), st.integers(1, 3)
    ),
    info=values,
)
def test_npy_reader_on_random_info(tmp_path, features, info):
    np.save(tmp_path / "img.npy", features)
    np.save(tmp_path / "img_info.npy", _object_array(info), allow_pickle=True)
    _check(FeatureReader(str(tmp_path), max_features=4), "img")


def _object_array(value):
    """``value`` as numpy stores it: an object array, 0-d when numpy cannot lay it out
    (a list of arrays of different shapes makes ``np.array`` itself raise)."""
    try:
        return np.array(value, dtype=object)
    except ValueError:
        holder = np.empty((), dtype=object)
        holder[()] = value
        return holder


@FUZZ
@given(value=st.binary(max_size=200) | values.map(pickle.dumps))
def test_lmdb_reader_on_random_values(tmp_path, value):
    # A fresh path per example: readers keep one shared environment per path and process.
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "f.lmdb"
    env = lmdb.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"keys", pickle.dumps(["img"]))
        txn.put(b"img", value)
    env.close()
    _check(FeatureReader(str(path), max_features=4), "img")
