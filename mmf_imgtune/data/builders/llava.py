"""``llava``: LLaVA's instruction-tuning files (arXiv 2304.08485) as an MMF builder.

LLaVA ships one JSON list per split, each entry ``{"id", "image": "000000033471.jpg",
"conversations": [{"from": "human", "value": "<image>\\nWhat ...?"}, {"from": "gpt", "value":
"..."}, ...]}`` (e.g. ``llava_instruct_150k.json``, with the COCO train2017 images). The
reading, feature extraction and checks are ``image_text_jsonl``'s (whose lines may carry the
same ``conversations``); this builder only has its own defaults
(``configs/datasets/llava/defaults.yaml``: the ``chat_prompt`` processor, LLaVA's paths).
"""

from __future__ import annotations

from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.builders.image_text_jsonl import ImageTextJsonlBuilder
from mmf_imgtune.registry import registry

NAME = "llava"


@registry.register_builder(NAME)
class LlavaBuilder(ImageTextJsonlBuilder):
    def __init__(self):
        BaseDatasetBuilder.__init__(self, NAME)

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/llava/defaults.yaml"
