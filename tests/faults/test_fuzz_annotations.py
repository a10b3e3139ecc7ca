"""Property-based fuzzing of the annotation reader and the restricted unpickler: any input
ends in valid annotations or the project's own ``DataError``, never another exception."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmf_imgtune.errors import DataError
from mmf_imgtune.io.annotations import load_annotations
from mmf_imgtune.utils.safe_pickle import safe_load_npy, safe_loads

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".json", ".npy"]))
def test_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"ann{suffix}"
    path.write_bytes(data)
    try:
        items = load_annotations(str(path))
    except DataError as error:
        assert str(path) in str(error)
    else:
        assert items and all(isinstance(item, dict) for item in items)


@FUZZ
@given(lines=st.lists(json_values, max_size=5))
def test_random_json_lines(tmp_path, lines):
    path = tmp_path / "ann.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    valid = bool(lines) and all(isinstance(line, dict) for line in lines)
    try:
        items = load_annotations(str(path))
    except DataError as error:
        assert not valid and "ann.jsonl" in str(error)
    else:
        assert valid and items == lines


@FUZZ
@given(value=json_values)
def test_random_json_document(tmp_path, value):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(value))
    try:
        items = load_annotations(str(path))
    except DataError:
        return
    assert all(isinstance(item, dict) for item in items) and items


@FUZZ
@given(data=st.binary(max_size=200))
def test_restricted_unpickler_on_random_bytes(tmp_path, data):
    try:
        safe_loads(data)
    except DataError:
        pass
    path = tmp_path / "x_info.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + data)
    try:
        safe_load_npy(str(path))
    except DataError:
        pass
