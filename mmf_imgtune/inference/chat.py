"""Multi-turn chat about one image with an ImgTune model, the KV cache kept across turns.

LLaVA's demo re-encodes the whole conversation every turn. ``ChatSession`` keeps the LLM's KV
cache of everything already encoded (the text before ``<image>``, the visual tokens, earlier
turns) and each turn feeds only the tokens the cache lacks: the conversation is rendered with
the same ``ChatRenderer`` as training (``mmf_imgtune.data.conversation``), compared with the
ids in the cache, the cache is cropped to the common prefix (an answer whose text
re-tokenises differently, or a reference answer replacing the generated one, costs only its
own tokens) and the rest is fed. ``reuse_cache=False`` re-encodes everything each turn (the
reference the tests compare against: the same tokens). Greedy decoding through the one
decoding loop (``models/imgtune/generation.greedy_decode``, handed the session's cache);
tokens are handed to ``on_text`` as they are generated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mmf_imgtune.data.conversation import IMAGE_TOKEN, ChatRenderer
from mmf_imgtune.models.imgtune import lm as lm_lib
from mmf_imgtune.models.imgtune.generation import greedy_decode


class ChatSession:
    """Args:
    model: an ImgTune model with ``task: generation`` (eval mode).
    renderer: the ``ChatRenderer`` of the training processor (same template, stop token).
    max_new_tokens: the longest answer.
    reuse_cache: keep the KV cache across turns (False: re-encode every turn).
    """

    def __init__(
        self, model: Any, renderer: ChatRenderer, max_new_tokens: int = 32, reuse_cache: bool = True
    ):
        self.model, self.renderer = model, renderer
        self.max_new_tokens, self.reuse_cache = int(max_new_tokens), reuse_cache
        self.visual: dict | None = None
        self.reset()

    # --- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the conversation (the image stays)."""
        self.messages: list[dict] = []
        self._drop_cache()

    def _drop_cache(self) -> None:
        self.cache: Any = None
        self.cached_ids: list[int] = []  # text ids whose keys/values the cache holds

    def set_image(self, sample_list: Any | None) -> None:
        """Encode a batch of one (``image_feature_0``/``image_info_0``, as training saw them)
        and start a new conversation about it; None: talk without an image."""
        with torch.no_grad():
            self.visual = None if sample_list is None else self.model.encode_regions(sample_list)
        self.reset()

    @property
    def visual_length(self) -> int:
        uses_prefix = self.model.config.fusion in ("prefix", "both")
        return int(self.visual["tokens"].size(1)) if self.visual and uses_prefix else 0

    # --- one turn ------------------------------------------------------------------------
    def ask(self, text: str, on_text: Callable[[str], None] | None = None) -> str:
        """Answer ``text`` given the conversation so far; the answer joins the history."""
        if not self.messages and self.visual is not None and IMAGE_TOKEN not in text:
            text = f"{IMAGE_TOKEN}\n{text}"
        self.messages.append({"role": "user", "content": text})
        encoded = self.renderer.encode(self.messages, add_generation_prompt=True)
        tokens = self._generate(encoded.ids, encoded.image_position, on_text)
        answer = self._decode(tokens)
        self.messages.append({"role": "assistant", "content": answer})
        return answer

    def replace_last_answer(self, answer: str) -> None:
        """Put another answer (e.g. the reference, for evaluation) in the history."""
        if not self.messages or self.messages[-1]["role"] != "assistant":
            raise ValueError("replace_last_answer: the conversation has no answer yet")
        self.messages[-1]["content"] = answer

    def _decode(self, tokens: list[int]) -> str:
        return self.renderer.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def _reusable(self, ids: list[int], image_position: int | None) -> int:
        """How many text ids at the front of ``ids`` the cache already holds (0: none)."""
        if not self.reuse_cache or self.cache is None:
            return 0
        common = 0
        for a, b in zip(self.cached_ids, ids):
            if a != b:
                break
            common += 1
        common = min(common, len(ids) - 1)  # the last id is fed again: its logits are needed
        if image_position is not None and self.visual_length and common < image_position + 1:
            return 0  # the cut would fall before or inside the visual tokens: start afresh
        return common

    def _keep_cached(self, start: int) -> None:
        """Keep the cache of the first ``start`` text ids (and the visual tokens before them)."""
        if start == 0:
            self._drop_cache()
        elif start < len(self.cached_ids):
            # Cache positions count the visual tokens when the text cut is past the image.
            # A negative crop removes that many positions (the form every release accepts).
            self.cache.crop(start + self.visual_length - self.cache.get_seq_length())
        self.cached_ids = self.cached_ids[:start]

    def _check_positions(self, ids: list[int]) -> None:
        """The model's own context check, over the whole conversation and the answer."""
        device = next(self.model.parameters()).device
        mask = torch.ones(1, len(ids), dtype=torch.long, device=device)  # (1, T)
        if self.visual_length:
            mask = torch.cat([self.visual["mask"].to(mask.dtype), mask], dim=1)  # (1, P + T)
        try:
            self.model.check_context(mask, self.visual_length, self.max_new_tokens)
        except ValueError as error:
            raise ValueError(f"{error}; in a chat, /reset starts a new conversation") from None

    @torch.no_grad()
    def _generate(
        self, ids: list[int], image_position: int | None, on_text: Callable[[str], None] | None
    ) -> list[int]:
        self._check_positions(ids)
        start = self._reusable(ids, image_position)
        self._keep_cached(start)
        device = next(self.model.parameters()).device
        position = None if image_position is None else torch.tensor([image_position], device=device)

        def step_fn(embeds: torch.Tensor, mask: torch.Tensor, cache: Any):
            # embeds: (1, N, H) the ids the cache lacks; mask: (1, L) all the text so far.
            out, _ = self.model.run_lm(
                embeds,
                mask,
                self.visual,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
                image_position=position,
            )
            self.cache = lm_lib.output_cache(out)
            return out.logits[:, -1], self.cache

        shown, row = [""], []

        def stream(step: torch.Tensor) -> None:
            row.append(int(step[0]))
            if on_text is None or row[-1] == self.renderer.stop_id:
                return
            text = self._decode(row)
            piece = text[len(shown[0]) :] if text.startswith(shown[0]) else text
            if piece:  # special tokens decode to nothing
                on_text(piece)
            shown[0] = text

        new = torch.tensor([ids[start:]], dtype=torch.long, device=device)  # (1, N)
        tokens = greedy_decode(
            step_fn,
            self.model.embed_text,
            self.model.embed_text(new),
            torch.ones(1, len(ids), dtype=torch.long, device=device),
            self.max_new_tokens,
            self.renderer.stop_id,
            cache=self.cache,
            on_step=stream,
        )[0].tolist()
        if tokens:  # every step but the last fed its token: the cache holds them
            self.cached_ids = [*ids, *tokens[:-1]]
        return (
            tokens[: tokens.index(self.renderer.stop_id)]
            if self.renderer.stop_id in tokens
            else tokens
        )
