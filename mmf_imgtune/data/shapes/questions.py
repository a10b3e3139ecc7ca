"""Question/answer pairs about a ``shapes`` scene, in the style of VQA (Antol et al. 2015).

Five families, each answerable from the scene graph alone and unambiguous by construction:

- ``colour``: "what colour is the circle?" (asked only of a shape that occurs once);
- ``shape``: "what shape is the red object?" (a colour that occurs once);
- ``count``: "how many objects / red objects / circles are there?" (answers 0..6);
- ``exist``: "is there a blue square?" (yes/no drawn with equal probability);
- ``spatial``: "what shape is left of the blue circle?" (the reference is the only object of
  its colour and shape, and exactly one object lies strictly on that side of it).

Synthetic answers have no annotator disagreement: all 10 answers agree, so the official VQA
score (MMF's soft score, ``modules/vqa_eval.py``) is 1.0 for the right answer and 0 elsewhere.
"""

from __future__ import annotations

import numpy as np

from mmf_imgtune.data.shapes.scene import SceneObject, related, unique_by
from mmf_imgtune.data.shapes.vocab import COLOURS, PLURALS, RELATIONS, SHAPES, with_article

FAMILIES: tuple[str, ...] = ("colour", "shape", "count", "exist", "spatial")
# MMF's VQA annotations carry 10 answers per question.
NUM_ANNOTATORS = 10


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def colour_question(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str] | None:
    candidates = unique_by(scene, "shape")
    if not candidates:
        return None
    obj = _pick(rng, candidates)
    return f"what colour is the {obj.shape}?", obj.colour


def shape_question(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str] | None:
    candidates = unique_by(scene, "colour")
    if not candidates:
        return None
    obj = _pick(rng, candidates)
    return f"what shape is the {obj.colour} object?", obj.shape


def count_question(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str]:
    kind = _pick(rng, ["all", "colour", "shape"])
    if kind == "all":
        return "how many objects are there?", str(len(scene))
    if kind == "colour":
        colour = _pick(rng, list(COLOURS))
        count = sum(o.colour == colour for o in scene)
        return f"how many {colour} objects are there?", str(count)
    shape = _pick(rng, list(SHAPES))
    count = sum(o.shape == shape for o in scene)
    return f"how many {PLURALS[shape]} are there?", str(count)


def exist_question(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str]:
    present = sorted({o.name for o in scene})
    absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
    # Half yes, half no, so the answer prior carries no information.
    if rng.random() < 0.5:
        return f"is there {with_article(_pick(rng, present))}?", "yes"
    return f"is there {with_article(_pick(rng, absent))}?", "no"


def spatial_question(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str] | None:
    options = [
        (ref, relation, hits[0])
        for ref in unique_by(scene, "name")
        for relation in RELATIONS
        if len(hits := related(scene, ref, relation)) == 1
    ]
    if not options:
        return None
    ref, relation, answer = _pick(rng, options)
    return f"what shape is {relation} the {ref.name}?", answer.shape


_MAKERS = {
    "colour": colour_question,
    "shape": shape_question,
    "count": count_question,
    "exist": exist_question,
    "spatial": spatial_question,
}


def make_questions(scene: list[SceneObject], rng: np.random.Generator) -> list[dict]:
    """At most one question per family (a family is skipped when the scene cannot support an
    unambiguous question).

    Returns:
        ``[{"question", "answer", "answers" (10 x answer), "family"}]`` in ``FAMILIES`` order.
    """
    questions = []
    for family in FAMILIES:
        made = _MAKERS[family](scene, rng)
        if made is None:
            continue
        question, answer = made
        questions.append(
            {
                "question": question,
                "answer": answer,
                "answers": [answer] * NUM_ANNOTATORS,
                "family": family,
            }
        )
    return questions
