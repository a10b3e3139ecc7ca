"""Dialogues about a ``shapes`` scene whose later turns depend on the earlier ones.

Each dialogue follows one chain (drawn per image; a new draw each train epoch):

- ``colour``: "what colour is the circle?" -> red; "and how many objects share that
  colour?" -> 2; "and how many do not?" -> 3 (the circle occurs once);
- ``shape``: "what shape is the red object?" -> circle; "and how many objects share that
  shape?" -> 2; "and how many do not?" -> 3 (red occurs once);
- ``count`` (scenes with neither a unique shape nor a unique colour): "how many objects are
  there?" -> 4; "and how many of them are circles?" -> 2; "and how many do not?" -> 2.

Turn 2 cannot be answered without knowing what turn 1 was about, and turn 3 without turn 2:
an image and the history are both needed. Conversations are LLaVA's format
(``conversation.py``), ``<image>`` in the first question.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from mmf_imgtune.data.conversation import IMAGE_TOKEN
from mmf_imgtune.data.shapes.vocab import PLURALS

# Words of the dialogues and of the default chat template beyond the generator's vocabulary.
DIALOGUE_WORDS = ("and", "share", "that", "do", "not", "them", "user", "assistant")
CHAINS = ("colour", "shape", "count")


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def make_dialogue(objects: list[dict], rng: np.random.Generator, turns: int = 3) -> list[dict]:
    """Question/answer turns about a scene.

    Args:
        objects: the record's ``objects`` (``shape`` and ``colour`` each).
        rng: the draw of the chain and its subject.
        turns: how many turns to keep (1 to 3).

    Returns:
        ``[{"question", "answer", "chain", "turn"}]``.
    """
    if not 1 <= turns <= 3:
        raise ValueError(f"dataset_config.shapes.dialogue_turns={turns}; use 1, 2 or 3")
    shapes = Counter(o["shape"] for o in objects)
    colours = Counter(o["colour"] for o in objects)
    options = []
    if any(n == 1 for n in shapes.values()):
        options.append("colour")
    if any(n == 1 for n in colours.values()):
        options.append("shape")
    chain = _pick(rng, options) if options else "count"
    total = len(objects)
    if chain == "colour":
        subject = _pick(rng, sorted(s for s, n in shapes.items() if n == 1))
        colour = next(o["colour"] for o in objects if o["shape"] == subject)
        first = (f"what colour is the {subject}?", colour)
        same = colours[colour]
        second = ("and how many objects share that colour?", str(same))
    elif chain == "shape":
        subject = _pick(rng, sorted(c for c, n in colours.items() if n == 1))
        shape = next(o["shape"] for o in objects if o["colour"] == subject)
        first = (f"what shape is the {subject} object?", shape)
        same = shapes[shape]
        second = ("and how many objects share that shape?", str(same))
    else:
        shape = _pick(rng, sorted(PLURALS))
        same = shapes[shape]
        first = ("how many objects are there?", str(total))
        second = (f"and how many of them are {PLURALS[shape]}?", str(same))
    third = ("and how many do not?", str(total - same))
    return [
        {"question": q, "answer": a, "chain": chain, "turn": k}
        for k, (q, a) in enumerate([first, second, third][:turns])
    ]


def to_conversation(dialogue: list[dict], image: bool = True) -> list[dict]:
    """Turns -> LLaVA ``conversations`` (``<image>`` before the first question)."""
    conversation = []
    for k, turn in enumerate(dialogue):
        question = f"{IMAGE_TOKEN}\n{turn['question']}" if image and k == 0 else turn["question"]
        conversation.append({"from": "human", "value": question})
        conversation.append({"from": "gpt", "value": turn["answer"]})
    return conversation


def dialogue_rng(seed: int, epoch: int, image_id: int) -> np.random.Generator:
    """The draw of an image's dialogue (train: per epoch; evaluation: epoch 0, fixed)."""
    return np.random.default_rng([seed, epoch, image_id, 14])
