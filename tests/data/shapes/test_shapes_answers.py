"""Every question, statement and caption agrees with the scene graph, and boxes with pixels.

The answers are recomputed here from the stored objects with the test's own reading of each
template (``shapes_helpers``), not with the generator's functions.
"""

import re
from collections import Counter

import numpy as np
import pytest
from shapes_helpers import find, side

from mmf_imgtune.data.shapes import SplitSettings, make_record
from mmf_imgtune.data.shapes.vocab import BACKGROUND, COLOURS, NUMBER_WORDS

PLURAL = {"circles": "circle", "squares": "square", "triangles": "triangle"}
SETTINGS = SplitSettings(split="val", size=200, seed=3, image_size=96, min_objects=1, max_objects=6)


@pytest.fixture(scope="module")
def records():
    return [make_record(SETTINGS, index) for index in range(SETTINGS.size)]


def answer(question: str, objects: list[dict]) -> str:
    """The answer of ``question`` from ``objects``, asserting the question is unambiguous."""
    if m := re.fullmatch(r"what colour is the (\w+)\?", question):
        (obj,) = find(objects, shape=m[1])
        return obj["colour"]
    if m := re.fullmatch(r"what shape is the (\w+) object\?", question):
        (obj,) = find(objects, colour=m[1])
        return obj["shape"]
    if question == "how many objects are there?":
        return str(len(objects))
    if m := re.fullmatch(r"how many (\w+) objects are there\?", question):
        return str(len(find(objects, colour=m[1])))
    if m := re.fullmatch(r"how many (\w+) are there\?", question):
        return str(len(find(objects, shape=PLURAL[m[1]])))
    if m := re.fullmatch(r"is there an? (\w+) (\w+)\?", question):
        return "yes" if find(objects, m[1], m[2]) else "no"
    if m := re.fullmatch(
        r"what shape is (left of|right of|above|below) the (\w+) (\w+)\?", question
    ):
        (ref,) = find(objects, m[2], m[3])
        (hit,) = [o for o in objects if o is not ref and side(o["bbox"], ref["bbox"], m[1])]
        return hit["shape"]
    raise AssertionError(f"unknown question template: {question!r}")


def truth(statement: str, objects: list[dict]) -> int:
    if m := re.fullmatch(r"there is an? (\w+) (\w+)\.", statement):
        return int(bool(find(objects, m[1], m[2])))
    if m := re.fullmatch(r"the (\w+) object is a (\w+)\.", statement):
        (obj,) = find(objects, colour=m[1])
        return int(obj["shape"] == m[2])
    if m := re.fullmatch(r"the (\w+) (\w+) is (left of|right of|above|below) the (\w+) (\w+)\.",
                         statement):  # fmt: skip
        (a,) = find(objects, m[1], m[2])
        (b,) = find(objects, m[4], m[5])
        return int(side(a["bbox"], b["bbox"], m[3]))
    if m := re.fullmatch(r"there are more (\w+)(?: objects)? than (\w+)(?: objects)?\.", statement):

        def count(word):
            return len(find(objects, shape=PLURAL[word]) if word in PLURAL else find(objects, word))

        return int(count(m[1]) > count(m[2]))
    raise AssertionError(f"unknown statement template: {statement!r}")


def test_questions_are_answered_correctly(records):
    families = Counter()
    for _, record in records:
        for item in record["questions"]:
            assert item["answer"] == answer(item["question"], record["objects"]), item
            assert item["answers"] == [item["answer"]] * 10
            families[item["family"]] += 1
    # Every family is exercised, including spatial relations and counts.
    assert set(families) == {"colour", "shape", "count", "exist", "spatial"}
    assert min(families.values()) >= 40, families
    answers = Counter(q["answer"] for _, r in records for q in r["questions"])
    assert {"yes", "no", "0", "1", "2"} <= set(answers)


def test_statement_labels_are_true(records):
    for _, record in records:
        for item in record["statements"]:
            assert item["label"] == truth(item["statement"], record["objects"]), item


def test_captions_describe_the_scene(records):
    for _, record in records:
        objects, captions = record["objects"], record["captions"]
        count = NUMBER_WORDS[len(objects)]
        assert any(count in caption.split() for caption in captions[:1]), captions
        colours = Counter(o["colour"] for o in objects)
        expected = [f"{NUMBER_WORDS[n]} {c} object" for c, n in colours.items()]
        assert all(phrase in captions[2] for phrase in expected), (captions[2], colours)
        ordered = sorted(objects, key=lambda o: (o["bbox"][0], o["bbox"][1]))
        named = re.findall(r"(\w+) (circle|square|triangle)", captions[1])
        assert named == [(o["colour"], o["shape"]) for o in ordered], captions[1]
        if m := re.fullmatch(r"an? (\w+) (\w+) is (left of|right of|above|below) an? (\w+) (\w+)\.",
                             captions[-1]):  # fmt: skip
            pairs = [(a, b) for a in find(objects, m[1], m[2]) for b in find(objects, m[4], m[5])]
            assert any(a is not b and side(a["bbox"], b["bbox"], m[3]) for a, b in pairs)


def test_boxes_are_inside_the_image_and_match_the_pixels(records):
    size = SETTINGS.image_size
    for image, record in records[:60]:
        pixels = np.asarray(image)  # (H, W, 3) uint8
        covered = np.zeros((size, size), dtype=bool)
        for obj in record["objects"]:
            x1, y1, x2, y2 = obj["bbox"]
            assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size, obj
            crop = pixels[y1:y2, x1:x2]
            mask = np.all(crop == COLOURS[obj["colour"]], axis=-1)
            rows, cols = np.nonzero(mask)
            # The object's colour touches all four edges of its box: the box is tight.
            assert (rows.min(), rows.max()) == (0, y2 - y1 - 1), obj
            assert (cols.min(), cols.max()) == (0, x2 - x1 - 1), obj
            # Squares fill their box; circles ~pi/4 of it, triangles ~1/2.
            fill = mask.mean()
            low, high = {"square": (0.99, 1.0), "circle": (0.7, 0.87), "triangle": (0.4, 0.65)}[
                obj["shape"]
            ]
            assert low <= fill <= high, (obj, fill)
            assert np.all(mask | np.all(crop == BACKGROUND, axis=-1)), "another object in a box"
            covered[y1:y2, x1:x2] = True
        # Outside every box there is only background.
        assert np.all(pixels[~covered] == BACKGROUND)
