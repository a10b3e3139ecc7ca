"""Processors; importing this package registers the built-in ones."""

from mmf_imgtune.data.processors import (
    chat_prompt,  # noqa: F401  (registers chat_prompt)
    image,  # noqa: F401  (registers torchvision_transforms)
    llm_prompt,  # noqa: F401  (registers llm_prompt)
    text,  # noqa: F401  (registers text_tokenizer)
)
from mmf_imgtune.data.processors.base import BaseProcessor, build_processor

__all__ = ["BaseProcessor", "build_processor"]
