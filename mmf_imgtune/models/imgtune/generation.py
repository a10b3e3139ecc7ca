"""Greedy and beam-search decoding over ``inputs_embeds`` for ImgTune: the one decoding loop.

``ImgTune.generate`` (evaluation, ``mmf_imgtune_generate``) and the chat session
(``mmf_imgtune.inference.chat``: one conversation, its KV cache kept across turns, tokens
streamed) both decode here; they differ only in their ``step_fn``.

Our own loop rather than HF ``generate`` because the prefix (visual tokens, padded boxes
masked, left-padded prompt) needs explicit ``position_ids`` and the cross-attention layers need
their visual tokens expanded per beam. With a KV cache (``generation.use_cache``, the default)
each step feeds only the new token and beams reorder the cache; without it every step re-runs
the whole sequence (same tokens, for models whose cache misbehaves). Beam search runs the
prompt once per sample (its beams start identical) and then copies that cache to the beams.
``benchmarks/generation_vs_hf.py`` times this loop against ``transformers``' ``generate``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# step_fn(inputs_embeds (R, N, H), attention_mask (R, L) or None, cache) -> (next-token logits
# (R, V), cache). The mask covers the whole text so far (L >= N); None means no position of
# any row is padded (the decoders then keep no mask); with a cache (not None) the inputs
# are the N newest positions only, without one (None in, None out) they are all L. R is the
# batch size B (greedy, and the first step of beam search) or B * beams (rows
# ``repeat_interleave``d per beam). Only the last position's logits are needed.
StepFn = Callable[[torch.Tensor, torch.Tensor, Any], tuple[torch.Tensor, Any]]
EmbedFn = Callable[[torch.Tensor], torch.Tensor]
# choose(next-token logits (B, V)) -> (B,) long token ids: argmax by default (greedy); a
# sampler draws instead (mmf_imgtune.inference.sampling).
ChooseFn = Callable[[torch.Tensor], torch.Tensor]
# on_step((B,) long tokens of this step, EOS after a row's end): streaming hears each step.
OnStepFn = Callable[[torch.Tensor], None]


def argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)


class _Sequence:
    """What the next step feeds: every position (uncached) or only the newest (cached)."""

    def __init__(self, embeds: torch.Tensor, mask: torch.Tensor, use_cache: bool, cache: Any):
        self.inputs, self.mask, self.use_cache = embeds, mask, use_cache
        self.cache: Any = cache

    def step(self, step_fn: StepFn) -> torch.Tensor:
        logits, cache = step_fn(self.inputs, self.mask, self.cache)
        self.cache = cache if self.use_cache else None
        return logits

    def append(self, embed: EmbedFn, tokens: torch.Tensor, rows: torch.Tensor | None = None):
        """Add one token per row, after keeping ``rows`` (beam reordering) if given.

        ``rows`` (R',) index the current R rows; R' > R expands them (B samples to B * beams).
        """
        if rows is not None:
            if self.mask is not None:
                self.mask = self.mask[rows]
            if self.cache is not None:
                self.cache.reorder_cache(rows)
            else:
                self.inputs = self.inputs[rows]
        new = embed(tokens.view(-1, 1)).to(self.inputs.dtype)  # (R, 1, H)
        if self.mask is not None:  # None: no row is padded, nothing to mask (see greedy_decode)
            ones = torch.ones(self.mask.size(0), 1, dtype=self.mask.dtype, device=self.mask.device)
            self.mask = torch.cat([self.mask, ones], dim=1)
        self.inputs = new if self.use_cache else torch.cat([self.inputs, new], dim=1)


@torch.no_grad()
def greedy_decode(
    step_fn: StepFn,
    embed: EmbedFn,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    max_new_tokens: int,
    eos_id: int,
    use_cache: bool = True,
    cache: Any = None,
    choose: ChooseFn = argmax,
    on_step: OnStepFn | None = None,
) -> torch.Tensor:
    """Args:
        embeds: (B, L, H) prefix embeddings; mask: (B, L) 0/1 attention mask, or None when no
            position is padded. With ``cache`` (the KV cache of positions before these, e.g. a
            chat's earlier turns) ``embeds`` are only the positions the cache lacks, and
            ``mask`` still covers all of them.
        choose: picks each step's tokens from the logits (greedy: argmax; sampling).
        on_step: called with each step's (B,) tokens as soon as they are chosen (streaming).

    Returns:
        (B, <= max_new_tokens) long token ids; after EOS every position holds EOS.
    """
    sequence = _Sequence(embeds, mask, use_cache, cache)
    tokens = embeds.new_zeros(embeds.size(0), 0, dtype=torch.long)
    done = torch.zeros(embeds.size(0), dtype=torch.bool, device=embeds.device)
    for _ in range(max_new_tokens):
        step = choose(sequence.step(step_fn))  # (B,)
        step = torch.where(done, torch.full_like(step, eos_id), step)
        tokens = torch.cat([tokens, step.unsqueeze(1)], dim=1)
        if on_step is not None:
            on_step(step)
        done = done | (step == eos_id)
        if bool(done.all()):
            break
        sequence.append(embed, step)
    return tokens


@torch.no_grad()
def beam_decode(
    step_fn: StepFn,
    embed: EmbedFn,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    max_new_tokens: int,
    eos_id: int,
    num_beams: int,
    length_penalty: float = 1.0,
    use_cache: bool = True,
) -> torch.Tensor:
    """Beam search; the best beam by summed log-probability / length**length_penalty.

    Args:
        embeds: (B, L, H); mask: (B, L), or None when no position is padded.

    Returns:
        (B, <= max_new_tokens) long token ids, EOS-filled after the end.
    """
    batch = embeds.size(0)
    # The first step runs the B prompts once; its cache is then copied to the beams.
    sequence = _Sequence(embeds, mask, use_cache, None)
    scores = torch.zeros(batch, num_beams, device=embeds.device)
    scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    tokens = embeds.new_zeros(batch * num_beams, 0, dtype=torch.long)
    finished = torch.zeros(batch * num_beams, dtype=torch.bool, device=embeds.device)
    lengths = torch.zeros(batch * num_beams, device=embeds.device)
    for step_index in range(max_new_tokens):
        logp = sequence.step(step_fn).float().log_softmax(dim=-1)  # (B or B*beams, V)
        if step_index == 0:
            logp = logp.repeat_interleave(num_beams, dim=0)  # (B*beams, V)
        vocab = logp.size(-1)
        # A finished beam only extends with EOS at no cost, so its score stays fixed.
        logp[finished] = float("-inf")
        logp[finished, eos_id] = 0.0
        total = (scores.view(-1, 1) + logp).view(batch, num_beams * vocab)
        scores, index = total.topk(num_beams, dim=-1)  # (B, beams)
        source = (
            torch.arange(batch, device=index.device).unsqueeze(1) * num_beams
            + torch.div(index, vocab, rounding_mode="floor")
        ).view(-1)
        step = (index % vocab).view(-1)  # (B*beams,)
        lengths = lengths[source] + (~finished[source]).float()
        finished = finished[source] | (step == eos_id)
        tokens = torch.cat([tokens[source], step.unsqueeze(1)], dim=1)
        if bool(finished.all()):
            break
        # After the first step the sequence holds B rows: beam row b * beams + k reads row b.
        rows = torch.div(source, num_beams, rounding_mode="floor") if step_index == 0 else source
        sequence.append(embed, step, rows=rows)
    normalised = scores.view(-1) / lengths.clamp(min=1) ** length_penalty
    best = normalised.view(batch, num_beams).argmax(dim=-1)  # (B,)
    rows = torch.arange(batch, device=best.device) * num_beams + best
    return tokens[rows]


def decode_tokens(tokenizer, tokens: torch.Tensor, eos_id: int) -> list[str]:
    """Token ids (B, T) -> strings, cut at the first EOS, special tokens dropped."""
    texts = []
    for row in tokens.tolist():
        if eos_id in row:
            row = row[: row.index(eos_id)]
        texts.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return texts
