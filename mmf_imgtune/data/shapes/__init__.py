"""The synthetic ``shapes`` scenes: scene graphs, rendering, captions, questions, statements.

``generate_split`` writes a split in MMF's layout; the ``shapes`` builder
(``mmf_imgtune.data.builders.shapes``) calls it, extracts region features and serves the
tasks. See docs/shapes.md.
"""

from mmf_imgtune.data.shapes.generate import (
    SplitSettings,
    generate_split,
    image_key,
    load_split,
    make_record,
)
from mmf_imgtune.data.shapes.scene import SceneObject, relation_holds, sample_scene
from mmf_imgtune.data.shapes.vocab import ANSWERS, CLASS_NAMES, all_words

__all__ = [
    "ANSWERS",
    "CLASS_NAMES",
    "SceneObject",
    "SplitSettings",
    "all_words",
    "generate_split",
    "image_key",
    "load_split",
    "make_record",
    "relation_holds",
    "sample_scene",
]
