"""``chat_prompt``: a multi-turn conversation about an image -> causal-LM training tensors.

The dialogue counterpart of ``llm_prompt`` (LLaVA's instruction tuning, arXiv 2304.08485):
the conversation (LLaVA ``conversations`` or chat messages) is rendered with the tokenizer's
chat template, a configured one, or ``conversation.DEFAULT_TEMPLATE``
(``mmf_imgtune.data.conversation``); the model puts its visual tokens at ``image_position``;
labels are -100 everywhere except the assistant answers and their end-of-turn token.
Conversations longer than ``max_seq_length`` lose whole trailing exchanges; the processor
counts them and says so (a warning whenever the count doubles).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from omegaconf import OmegaConf

from mmf_imgtune.data.conversation import (
    ChatRenderer,
    Encoded,
    parse_conversation,
    with_image,
)
from mmf_imgtune.data.processors.base import BaseProcessor
from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.registry import registry

logger = logging.getLogger(__name__)

# The processor's defaults (its params override them); one place, documented here.
DEFAULTS = {
    # A Jinja chat template; null: the tokenizer's own, else conversation.DEFAULT_TEMPLATE.
    "chat_template": None,
    # The token that ends an assistant turn (learned; stops generation); null: EOS.
    "stop_token": None,
    # Add <image> to the first user turn of conversations that have none.
    "add_image": True,
}
REQUIRED = ("tokenizer", "max_seq_length")
# llm_prompt's keys, which a config layered over an llm_prompt one inherits (layers merge key
# by key): the chat template decides the prompt text here, so a value would be silently
# ignored. A layer drops an inherited one by setting it to null.
LLM_PROMPT_KEYS = ("prompt_template", "answer_prefix", "add_bos")
CACHE_SIZE = 200_000  # rendered dialogues kept per process


@registry.register_processor("chat_prompt")
class ChatPromptProcessor(BaseProcessor):
    """``{"conversations": [...], "id"?: ...}`` -> dialogue tensors.

    Params: ``tokenizer`` (see ``build_tokenizer``), ``max_seq_length`` (text tokens, without
    the visual ones), and the keys of ``DEFAULTS``.

    Returns (from ``__call__``):
        ``input_ids`` (L,) right-padded, ``input_mask`` (L,), ``labels`` (L,) -100 except
        assistant tokens, ``answer_turn`` (L,) the assistant turn of each label (-1 elsewhere),
        ``image_position`` () the text position the visual tokens go before,
        ``num_turns`` () assistant turns kept, ``truncated_turns`` () assistant turns dropped.
    """

    def __init__(self, config: Any = None, *args: Any, **kwargs: Any):
        super().__init__(config)
        missing = [key for key in REQUIRED if key not in self.config]
        if missing:
            raise KeyError(f"chat_prompt params need {missing}; got {list(self.config.keys())}")
        inherited = [key for key in LLM_PROMPT_KEYS if self.config.get(key) is not None]
        if inherited:
            raise KeyError(
                f"chat_prompt params {inherited} are llm_prompt's and would be ignored (the "
                "chat template renders the prompt): set them to null (an inherited key) or "
                "put the prompt text in chat_template"
            )
        self.config = OmegaConf.merge(DEFAULTS, self.config)
        self.tokenizer = build_tokenizer(self.config.tokenizer)
        self.max_seq_length = int(self.config.max_seq_length)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            raise ValueError("chat_prompt needs a tokenizer with a pad_token (or eos_token)")
        self.renderer = ChatRenderer(
            self.tokenizer, self.config.chat_template, self.config.stop_token
        )
        self.truncated_conversations = 0  # conversations that lost turns, this process
        self.dropped_turns = 0  # assistant turns dropped, this process
        # Rendering costs ~10 template passes a dialogue; a data set repeats its dialogues
        # every epoch, so each distinct one is rendered once (per process).
        self._encoded: dict[tuple, Encoded] = {}

    def messages(self, item: dict) -> list[dict]:
        """The item's conversation as chat messages (``<image>`` added when configured)."""
        where = f"conversation {item.get('id', '?')}"
        messages = parse_conversation(item.get("conversations"), where)
        return with_image(messages, where) if self.config.add_image else messages

    def __call__(self, item: dict, *args: Any, **kwargs: Any) -> dict:
        messages = self.messages(item)
        key = tuple((m["role"], m["content"]) for m in messages)
        encoded = self._encoded.get(key)
        if encoded is None:
            encoded = self.renderer.encode_truncated(messages, self.max_seq_length)
            if len(self._encoded) < CACHE_SIZE:
                self._encoded[key] = encoded
        if encoded.truncated_turns:
            self._count(encoded.truncated_turns, encoded.num_turns)
        length, used = self.max_seq_length, len(encoded.ids)
        pad = length - used
        return {
            "input_ids": torch.tensor(encoded.ids + [self.pad_id] * pad, dtype=torch.long),
            "input_mask": torch.tensor([1] * used + [0] * pad, dtype=torch.long),
            "labels": torch.tensor(encoded.labels + [-100] * pad, dtype=torch.long),
            "answer_turn": torch.tensor(encoded.turns + [-1] * pad, dtype=torch.long),
            "image_position": torch.tensor(encoded.image_position or 0, dtype=torch.long),
            "num_turns": torch.tensor(encoded.num_turns, dtype=torch.long),
            "truncated_turns": torch.tensor(encoded.truncated_turns, dtype=torch.long),
        }

    def _count(self, dropped: int, kept: int) -> None:
        self.truncated_conversations += 1
        self.dropped_turns += dropped
        count = self.truncated_conversations
        if count & (count - 1) == 0:  # 1, 2, 4, 8, ...: the count stays visible, not a flood
            logger.warning(
                "chat_prompt: %d conversation(s) so far were longer than max_seq_length=%d "
                "text tokens; %d assistant turn(s) dropped in all (whole turns, e.g. this "
                "one kept %d). Raise max_seq_length to keep them.",
                count,
                self.max_seq_length,
                self.dropped_turns,
                kept,
            )
