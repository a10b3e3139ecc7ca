"""Reference captions of a ``shapes`` scene: several templates with varied wording.

Like COCO's five human captions per image (Chen et al. 2015), each scene gets several
references that describe it differently: the object count, the objects from left to right,
colour or shape counts, and a spatial relation. All are true of the scene; captioning metrics
(BLEU-4, CIDEr) score a generated caption against the whole list.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from mmf_imgtune.data.shapes.scene import SceneObject, true_relations
from mmf_imgtune.data.shapes.vocab import NUMBER_WORDS, PLURALS, with_article


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _join(parts: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _counted(count: int, singular: str, plural: str) -> str:
    return f"{NUMBER_WORDS[count]} {singular if count == 1 else plural}"


def count_caption(scene: list[SceneObject], rng: np.random.Generator) -> str:
    noun = _pick(rng, ["object", "shape"])
    things = _counted(len(scene), noun, noun + "s")
    verb = "is" if len(scene) == 1 else "are"
    return _pick(
        rng,
        [
            f"there {verb} {things} in the image.",
            f"{things} on a grey background.",
            f"this picture shows {things}.",
        ],
    )


def list_caption(scene: list[SceneObject], rng: np.random.Generator) -> str:
    ordered = sorted(scene, key=lambda o: (o.box[0], o.box[1]))
    with_size = rng.random() < 0.5
    parts = [with_article(f"{o.size} {o.name}" if with_size else o.name) for o in ordered]
    if len(parts) == 1:
        return f"{parts[0]} on a grey background."
    return f"from left to right: {_join(parts)}."


def colour_count_caption(scene: list[SceneObject], rng: np.random.Generator) -> str:
    counts = Counter(o.colour for o in scene)
    parts = [_counted(n, f"{c} object", f"{c} objects") for c, n in sorted(counts.items())]
    return f"{_join(parts)}."


def shape_count_caption(scene: list[SceneObject], rng: np.random.Generator) -> str:
    counts = Counter(o.shape for o in scene)
    parts = [_counted(n, s, PLURALS[s]) for s, n in sorted(counts.items())]
    return f"an image with {_join(parts)}."


def relation_caption(scene: list[SceneObject], rng: np.random.Generator) -> str | None:
    pairs = true_relations(scene)
    if not pairs:
        return None
    a, relation, b = _pick(rng, pairs)
    return f"{with_article(a.name)} is {relation} {with_article(b.name)}."


_TEMPLATES = (count_caption, list_caption, colour_count_caption, shape_count_caption,
              relation_caption)  # fmt: skip


def make_captions(scene: list[SceneObject], rng: np.random.Generator) -> list[str]:
    """4 or 5 reference captions (the relation caption needs two separated objects)."""
    captions = [template(scene, rng) for template in _TEMPLATES]
    return [caption for caption in captions if caption is not None]
