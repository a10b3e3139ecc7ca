"""True/false statements about a ``shapes`` scene: a task that needs both modalities.

Like Hateful Memes (Kiela et al. 2020), whose "benign confounders" flip the label by changing
one modality, every statement comes in a pair for the same image: one true, one false, built
by a symmetric change (swap the two objects of a relation or comparison, swap the attribute
for another one). Consequences, checked in tests/data/shapes:

- image alone is exactly at chance: every image has as many true as false statements;
- text alone is near chance: for each template the text of true and false statements has the
  same distribution (a swapped pair reads like any other pair).

Templates (``template`` field): ``exist`` ("there is a red circle."), ``attribute`` ("the red
object is a circle."), ``relation`` ("the red circle is left of the blue square."),
``compare`` ("there are more red objects than blue objects.").
"""

from __future__ import annotations

import numpy as np

from mmf_imgtune.data.shapes.scene import SceneObject, true_relations, unique_by
from mmf_imgtune.data.shapes.vocab import COLOURS, PLURALS, SHAPES, with_article

TEMPLATES: tuple[str, ...] = ("exist", "attribute", "relation", "compare")


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def exist_pair(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str]:
    # Every colour/shape pair is equally likely to be present, so the present and the absent
    # pair are drawn from the same distribution.
    present = sorted({o.name for o in scene})
    absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in present]
    true, false = _pick(rng, present), _pick(rng, absent)
    return f"there is {with_article(true)}.", f"there is {with_article(false)}."


def attribute_pair(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str] | None:
    candidates = unique_by(scene, "colour")
    if not candidates:
        return None
    obj = _pick(rng, candidates)
    wrong = _pick(rng, [s for s in SHAPES if s != obj.shape])
    return f"the {obj.colour} object is a {obj.shape}.", f"the {obj.colour} object is a {wrong}."


def relation_pair(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str] | None:
    named = unique_by(scene, "name")  # "the red circle" must name one object
    pairs = true_relations(named)
    if not pairs:
        return None
    a, relation, b = _pick(rng, pairs)
    # Strict relations are antisymmetric: swapping the objects makes the statement false.
    return f"the {a.name} is {relation} the {b.name}.", f"the {b.name} is {relation} the {a.name}."


def compare_pair(scene: list[SceneObject], rng: np.random.Generator) -> tuple[str, str] | None:
    if rng.random() < 0.5:
        values, nouns = list(COLOURS), {c: f"{c} objects" for c in COLOURS}
        counts = {c: sum(o.colour == c for o in scene) for c in COLOURS}
    else:
        values, nouns = list(SHAPES), PLURALS
        counts = {s: sum(o.shape == s for o in scene) for s in SHAPES}
    pairs = [(a, b) for a in values for b in values if counts[a] > counts[b]]
    if not pairs:
        return None
    more, fewer = _pick(rng, pairs)
    true = f"there are more {nouns[more]} than {nouns[fewer]}."
    return true, f"there are more {nouns[fewer]} than {nouns[more]}."


_MAKERS = {
    "exist": exist_pair,
    "attribute": attribute_pair,
    "relation": relation_pair,
    "compare": compare_pair,
}


def make_statements(scene: list[SceneObject], rng: np.random.Generator) -> list[dict]:
    """One true and one false statement per template the scene supports.

    Returns:
        ``[{"statement", "label" (1 true / 0 false), "template"}]``, the pair's order random.
    """
    statements = []
    for template in TEMPLATES:
        pair = _MAKERS[template](scene, rng)
        if pair is None:
            continue
        rows = [
            {"statement": pair[0], "label": 1, "template": template},
            {"statement": pair[1], "label": 0, "template": template},
        ]
        if rng.random() < 0.5:
            rows.reverse()
        statements += rows
    return statements
