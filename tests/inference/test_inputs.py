"""Boxes and class ids as JSON text (a flag, a web query): parsed or refused by name."""

import numpy as np
import pytest

from mmf_imgtune.inference.inputs import parse_boxes, parse_objects
from mmf_imgtune.inference.runs import InferenceError


def test_boxes_and_objects_parse_to_arrays():
    boxes = parse_boxes("[[1, 2, 3, 4], [5, 6, 7, 8]]")
    assert boxes.dtype == np.float32 and boxes.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    objects = parse_objects("[3, 7]", boxes)
    assert objects.dtype == np.int64 and objects.tolist() == [3, 7]
    assert parse_boxes(None) is None and parse_objects("", boxes) is None


@pytest.mark.parametrize(
    "text, message",
    [("[[1, 2]]x", "expected JSON"), ("[[1, 2, 3]]", "expected JSON"), ("[]", "is empty")],
)
def test_bad_boxes_are_refused_naming_the_flag(text, message):
    with pytest.raises(InferenceError, match=f"--boxes.*{message}|{message}"):
        parse_boxes(text)


def test_objects_need_one_integer_per_box():
    boxes = parse_boxes("[[1, 2, 3, 4]]")
    with pytest.raises(InferenceError, match=r"one integer class id per --boxes box \(1\)"):
        parse_objects("[3, 4]", boxes)
    with pytest.raises(InferenceError, match="one integer class id"):
        parse_objects("[1.5]", boxes)
    with pytest.raises(InferenceError, match="pass --boxes too"):
        parse_objects("[3]", None)
