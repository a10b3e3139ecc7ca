"""Text processors: tokenise into MMF's ``input_ids`` / ``input_mask`` / ``segment_ids``."""

from __future__ import annotations

from typing import Any

import torch

from mmf_imgtune.data.processors.base import BaseProcessor
from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.registry import registry


@registry.register_processor("text_tokenizer")
class TextTokenizerProcessor(BaseProcessor):
    """``{"text": str}`` (optionally ``"text_b"``) -> fixed-length token tensors.

    Params: ``tokenizer`` (see ``build_tokenizer``), ``max_seq_length`` (tokens, incl. specials).
    Text longer than ``max_seq_length`` is truncated, never silently dropped.
    """

    def __init__(self, config: Any = None, *args: Any, **kwargs: Any):
        super().__init__(config)
        if "tokenizer" not in self.config or "max_seq_length" not in self.config:
            raise KeyError(
                "text_tokenizer params need 'tokenizer' and 'max_seq_length'; got "
                f"{list(self.config.keys())}"
            )
        self.tokenizer = build_tokenizer(self.config.tokenizer)
        self.max_seq_length = int(self.config.max_seq_length)

    def __call__(self, item: dict, *args: Any, **kwargs: Any) -> dict:
        text = item["text"]
        if not isinstance(text, str):
            raise TypeError(f"text_tokenizer expects item['text'] to be a str, got {type(text)}")
        encoded = self.tokenizer(
            text,
            item.get("text_b"),
            padding="max_length",
            truncation=True,
            max_length=self.max_seq_length,
            return_token_type_ids=True,
        )
        return {
            "input_ids": torch.tensor(encoded["input_ids"], dtype=torch.long),
            "input_mask": torch.tensor(encoded["attention_mask"], dtype=torch.long),
            "segment_ids": torch.tensor(encoded["token_type_ids"], dtype=torch.long),
            "text": text,
        }
