"""``llm_prompt``: prompt (+ answer) text -> causal-LM training and generation tensors.

The LLaVA/BLIP-2 instruction format: ``prompt_template`` wraps the dataset's text, the answer
follows, then EOS. Labels are -100 on the prompt and the padding, so only answer tokens (and
EOS) are learned. ``prompt_ids`` is the prompt alone, left-padded, ready for generation.
Tokenisation happens here, never in the model's forward.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import OmegaConf

from mmf_imgtune.data.processors.base import BaseProcessor
from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.registry import registry

# The processor's defaults (its params override them); one place, documented here.
DEFAULTS = {
    # Text around the dataset's text; {text} is replaced by the question/caption prompt.
    "prompt_template": "{text}",
    # Text placed between the prompt and the answer (" " keeps BPE word boundaries).
    "answer_prefix": " ",
    # Prepend the tokenizer's BOS token (Llama-style tokenizers expect it).
    "add_bos": False,
}
REQUIRED = ("tokenizer", "max_seq_length")


@registry.register_processor("llm_prompt")
class LLMPromptProcessor(BaseProcessor):
    """``{"text": str, "answer": str | None}`` -> LLM tensors.

    Params: ``tokenizer`` (see ``build_tokenizer``), ``max_seq_length`` (tokens of prompt +
    answer + EOS), and the keys of ``DEFAULTS``.

    Returns (from ``__call__``):
        ``input_ids`` (L,) prompt + answer + EOS right-padded, ``input_mask`` (L,),
        ``labels`` (L,) -100 except answer and EOS, ``prompt_ids``/``prompt_mask`` (L,)
        the prompt left-padded, ``text`` the formatted prompt, ``answer`` (str or "").
    """

    def __init__(self, config: Any = None, *args: Any, **kwargs: Any):
        super().__init__(config)
        missing = [key for key in REQUIRED if key not in self.config]
        if missing:
            raise KeyError(f"llm_prompt params need {missing}; got {list(self.config.keys())}")
        self.config = OmegaConf.merge(DEFAULTS, self.config)
        self.tokenizer = build_tokenizer(self.config.tokenizer)
        self.max_seq_length = int(self.config.max_seq_length)
        self.eos_id = self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id
        if self.eos_id is None or self.pad_id is None:
            raise ValueError(
                "llm_prompt needs a tokenizer with eos_token and pad_token; "
                f"got eos={self.tokenizer.eos_token!r} pad={self.tokenizer.pad_token!r}"
            )

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def __call__(self, item: dict, *args: Any, **kwargs: Any) -> dict:
        if not isinstance(item.get("text"), str):
            raise TypeError(
                f"llm_prompt expects item['text'] to be a str, got {item.get('text')!r}"
            )
        prompt_text = str(self.config.prompt_template).format(text=item["text"])
        answer = item.get("answer")
        prompt = self._encode(prompt_text)
        if self.config.add_bos and self.tokenizer.bos_token_id is not None:
            prompt = [self.tokenizer.bos_token_id, *prompt]
        target = self._encode(self.config.answer_prefix + answer) + [self.eos_id] if answer else []
        length = self.max_seq_length
        # Too long: keep at most half for the answer, then the end of the prompt (the cue).
        target = target[: max(length // 2, length - len(prompt))]
        prompt = (
            prompt[len(prompt) - (length - len(target)) :]
            if len(prompt) + len(target) > length
            else prompt
        )
        pad = length - len(prompt) - len(target)
        ids = prompt + target + [self.pad_id] * pad
        labels = [-100] * len(prompt) + target + [-100] * pad
        prompt_pad = length - len(prompt)
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "input_mask": torch.tensor([1] * (len(prompt) + len(target)) + [0] * pad),
            "labels": torch.tensor(labels, dtype=torch.long),
            "prompt_ids": torch.tensor([self.pad_id] * prompt_pad + prompt, dtype=torch.long),
            "prompt_mask": torch.tensor([0] * prompt_pad + [1] * len(prompt)),
            "text": prompt_text,
            "answer": answer or "",
        }
