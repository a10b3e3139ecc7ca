"""Scene graphs of the ``shapes`` data set: objects with attributes and boxes, and relations.

A scene is a list of 1..6 ``SceneObject``s (shape x colour x size) placed so that their boxes
never touch (a gap of at least ``GAP`` pixels): every box then contains exactly one object's
pixels, which keeps the ground-truth boxes exact and the questions unambiguous. Relations are
strict box relations (``left of`` = the whole box lies left of the other box), in the spirit of
CLEVR (Johnson et al. 2017) but decided on boxes so that a question never depends on a
judgement call about centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmf_imgtune.data.shapes.vocab import COLOURS, MAX_OBJECTS, RELATIONS, SHAPES, SIZES, class_id

# Minimum free pixels between two boxes.
GAP = 2
# Placement attempts per object before the scene gives up on that object.
_TRIES = 200


@dataclass(frozen=True)
class SceneObject:
    """One drawn object; ``box`` is x1, y1, x2, y2 in pixels with x2/y2 exclusive."""

    shape: str
    colour: str
    size: str
    box: tuple[int, int, int, int]

    @property
    def label(self) -> int:
        """Class id (1..18; 0 is background), see ``vocab.CLASS_NAMES``."""
        return class_id(self.colour, self.shape)

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    def to_json(self) -> dict:
        return {
            "shape": self.shape,
            "colour": self.colour,
            "size": self.size,
            "label": self.label,
            "bbox": list(self.box),
        }

    @classmethod
    def from_json(cls, item: dict) -> SceneObject:
        return cls(item["shape"], item["colour"], item["size"], tuple(item["bbox"]))


def _free(box: tuple[int, int, int, int], placed: list[SceneObject]) -> bool:
    x1, y1, x2, y2 = box
    for other in placed:
        ox1, oy1, ox2, oy2 = other.box
        if x1 < ox2 + GAP and ox1 < x2 + GAP and y1 < oy2 + GAP and oy1 < y2 + GAP:
            return False
    return True


def sample_scene(
    rng: np.random.Generator, image_size: int, min_objects: int = 1, max_objects: int = 6
) -> list[SceneObject]:
    """Draw a random scene.

    Args:
        rng: the scene's own generator (one per image keeps images independent of each other).
        image_size: side of the square image in pixels.
        min_objects, max_objects: object count range (inclusive, at most 6).
    Returns:
        the objects in drawing order (no two boxes within ``GAP`` pixels of each other).
    """
    if not 1 <= min_objects <= max_objects <= MAX_OBJECTS:
        raise ValueError(
            f"shapes objects range [{min_objects}, {max_objects}] must lie within "
            f"[1, {MAX_OBJECTS}]; fix dataset_config.shapes.min_objects/max_objects"
        )
    count = int(rng.integers(min_objects, max_objects + 1))
    placed: list[SceneObject] = []
    colours, sizes = list(COLOURS), list(SIZES)
    failures = 0
    while len(placed) < count:
        size = sizes[int(rng.integers(len(sizes)))]
        low, high = SIZES[size]
        side = int(round(image_size * rng.uniform(low, high)))
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        colour = colours[int(rng.integers(len(colours)))]
        for _ in range(_TRIES):
            x, y = (int(v) for v in rng.integers(0, image_size - side + 1, size=2))
            box = (x, y, x + side, y + side)
            if _free(box, placed):
                placed.append(SceneObject(shape, colour, size, box))
                break
        else:
            # A crowded image: try again with a fresh object rather than overlapping.
            failures += 1
            if len(placed) >= min_objects:
                break
            if failures > 50:
                raise ValueError(
                    f"cannot place {min_objects} separate objects in a {image_size}px image; "
                    "raise dataset_config.shapes.image_size or lower min_objects"
                )
    return placed


def relation_holds(a: SceneObject, b: SceneObject, relation: str) -> bool:
    """Whether ``a`` is ``relation`` ``b`` (strict: the boxes are separated on that axis)."""
    ax1, ay1, ax2, ay2 = a.box
    bx1, by1, bx2, by2 = b.box
    if relation == "left of":
        return ax2 <= bx1
    if relation == "right of":
        return ax1 >= bx2
    if relation == "above":
        return ay2 <= by1
    if relation == "below":
        return ay1 >= by2
    raise ValueError(f"unknown relation {relation!r}; use one of left of/right of/above/below")


def true_relations(objects: list[SceneObject]) -> list[tuple[SceneObject, str, SceneObject]]:
    """Every ``(a, relation, b)`` of two different objects that holds, in a fixed order."""
    return [
        (a, relation, b)
        for a in objects
        for b in objects
        for relation in RELATIONS
        if a is not b and relation_holds(a, b, relation)
    ]


def unique_by(scene: list[SceneObject], attribute: str) -> list[SceneObject]:
    """Objects whose ``attribute`` value (``colour``, ``shape`` or ``name``) no other has."""
    values = [getattr(o, attribute) for o in scene]
    return [o for o, v in zip(scene, values) if values.count(v) == 1]


def related(scene: list[SceneObject], reference: SceneObject, relation: str) -> list[SceneObject]:
    """The other objects that are ``relation`` ``reference``."""
    return [o for o in scene if o is not reference and relation_holds(o, reference, relation)]
