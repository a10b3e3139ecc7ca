"""Tiny dialogue batches for ImgTune tests: the chat_prompt processor over a word-level
tokenizer, random region features (the shared helpers' shapes)."""

from __future__ import annotations

import torch
from imgtune_helpers import FEATURE_DIM

from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.data.processors.chat_prompt import ChatPromptProcessor

WORDS = ["what", "colour", "is", "it", "red", "blue", "and", "how", "many", "?", "2", "3",
         "user", "assistant", ":", "system", "look"]  # fmt: skip
TOKENIZER = {"word_level": {"words": WORDS}}
DIALOGUE = [
    {"from": "human", "value": "<image>\nwhat colour is it?"},
    {"from": "gpt", "value": "red"},
    {"from": "human", "value": "and how many?"},
    {"from": "gpt", "value": "2"},
]


def dialogue_batch(size: int = 4, boxes: int = 5, seed: int = 0, system: bool = False):
    """A SampleList of ``size`` two-turn dialogues (a system turn first with ``system``, so
    the image sits inside the text); answers follow box 0's feature 0 sign."""
    generator = torch.Generator().manual_seed(seed)
    processor = ChatPromptProcessor({"tokenizer": TOKENIZER, "max_seq_length": 24})
    samples = []
    for index in range(size):
        turns = [dict(t) for t in DIALOGUE]
        turns[1]["value"], turns[3]["value"] = ("red", "2") if index % 2 else ("blue", "3")
        if system:
            turns = [{"from": "system", "value": "look"}, *turns]
        sample = Sample(processor({"conversations": turns}))
        features = torch.randn(boxes, FEATURE_DIM, generator=generator)
        features[0, 0] = 3.0 if index % 2 else -3.0
        sample.image_feature_0 = features
        corners = torch.rand(boxes, 2, generator=generator) * 0.5
        sample.image_info_0 = {
            "num_boxes": torch.tensor(boxes - index % 2),
            "boxes_5d": torch.cat([corners, corners + 0.5, torch.full((boxes, 1), 0.25)], 1),
            "objects": torch.zeros(boxes, dtype=torch.long),
        }
        sample.id = torch.tensor(index)
        samples.append(sample)
    batch = SampleList(samples)
    batch.dataset_name, batch.dataset_type = "dialogue", "train"
    return batch
