"""The closed world of the ``shapes`` data set: attributes, class ids, answers and words.

Everything the generator can draw or say is listed here, so the answer vocabulary, the object
class ids and the word-level tokenizer's vocabulary are fixed by the code, not by the data:
models can size their heads before any data exists, and every seed gives the same ids.
"""

from __future__ import annotations

# Name -> RGB fill. Saturated and far apart so a colour is unambiguous in the pixels.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 200, 40),
    "purple": (150, 60, 190),
    "orange": (240, 130, 30),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
PLURALS: dict[str, str] = {"circle": "circles", "square": "squares", "triangle": "triangles"}
# Size name -> side of the object's box as a fraction of the image side (min, max).
SIZES: dict[str, tuple[float, float]] = {"small": (0.11, 0.16), "large": (0.20, 0.27)}
BACKGROUND: tuple[int, int, int] = (235, 235, 235)
# Spatial relations between boxes; see ``scene.relation_holds`` for their strict meaning.
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six")
MAX_OBJECTS = 6

# Object class ids as detectors number them: 0 is background, then colour-major.
CLASS_NAMES: tuple[str, ...] = tuple(f"{c} {s}" for c in COLOURS for s in SHAPES)

# VQA answers in class order (normalised as VQA's evaluation does: numbers as digits).
ANSWERS: tuple[str, ...] = (
    *COLOURS,
    *SHAPES,
    *(str(n) for n in range(MAX_OBJECTS + 1)),
    "yes",
    "no",
)

# Every word the caption/question/statement templates use besides the attribute names.
TEMPLATE_WORDS: tuple[str, ...] = (
    "a", "an", "and", "are", "background", "describe", "from", "grey", "how", "image", "in",
    "is", "left", "many", "more", "object", "objects", "of", "on", "picture", "right",
    "shape", "shapes", "than", "the", "there", "to", "what", "colour", "above", "below", "with",
    "this", "shows",
)  # fmt: skip
PUNCTUATION: tuple[str, ...] = (".", ",", "?", ":")


def class_id(colour: str, shape: str) -> int:
    """Detector-style class id of a colour/shape pair: 1..18 (0 is background)."""
    return 1 + CLASS_NAMES.index(f"{colour} {shape}")


def all_words() -> list[str]:
    """Every token the generator can emit (questions, captions, statements, answers), sorted.

    The word-level tokenizer of ``configs/datasets/shapes/defaults.yaml`` lists exactly these.
    """
    words = {*TEMPLATE_WORDS, *PUNCTUATION, *COLOURS, *SHAPES, *PLURALS.values(), *SIZES}
    words |= {*NUMBER_WORDS, *ANSWERS}
    for relation in RELATIONS:
        words |= set(relation.split())
    return sorted(words)


def with_article(phrase: str) -> str:
    """``phrase`` with its indefinite article: ``with_article("red circle")`` -> ``"a red circle"``,
    ``with_article("orange square")`` -> ``"an orange square"``."""
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"
