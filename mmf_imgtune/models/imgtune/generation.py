"""Greedy and beam-search decoding over ``inputs_embeds`` for ImgTune.

Our own loop rather than HF ``generate`` because the prefix (visual tokens, padded boxes
masked, left-padded prompt) needs explicit ``position_ids`` and the cross-attention layers need
their visual tokens expanded per beam. It re-runs the whole sequence every step (no KV cache):
fine for short answers and captions; long generations from big LLMs would want a cached loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# logits_fn(inputs_embeds (R, L, H), attention_mask (R, L)) -> next-token logits (R, V);
# R is a multiple of the batch size (rows are ``repeat_interleave``d per beam).
LogitsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EmbedFn = Callable[[torch.Tensor], torch.Tensor]


def _append(embeds, mask, embed: EmbedFn, tokens):
    new = embed(tokens.view(-1, 1)).to(embeds.dtype)  # (R, 1, H)
    ones = torch.ones(mask.size(0), 1, dtype=mask.dtype, device=mask.device)
    return torch.cat([embeds, new], dim=1), torch.cat([mask, ones], dim=1)


@torch.no_grad()
def greedy_decode(
    logits_fn: LogitsFn,
    embed: EmbedFn,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    max_new_tokens: int,
    eos_id: int,
) -> torch.Tensor:
    """Args:
        embeds: (B, L, H) prefix embeddings; mask: (B, L) 0/1 attention mask.

    Returns:
        (B, <= max_new_tokens) long token ids; after EOS every position holds EOS.
    """
    tokens = embeds.new_zeros(embeds.size(0), 0, dtype=torch.long)
    done = torch.zeros(embeds.size(0), dtype=torch.bool, device=embeds.device)
    for _ in range(max_new_tokens):
        step = logits_fn(embeds, mask).argmax(dim=-1)  # (B,)
        step = torch.where(done, torch.full_like(step, eos_id), step)
        tokens = torch.cat([tokens, step.unsqueeze(1)], dim=1)
        done = done | (step == eos_id)
        if bool(done.all()):
            break
        embeds, mask = _append(embeds, mask, embed, step)
    return tokens


@torch.no_grad()
def beam_decode(
    logits_fn: LogitsFn,
    embed: EmbedFn,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    max_new_tokens: int,
    eos_id: int,
    num_beams: int,
    length_penalty: float = 1.0,
) -> torch.Tensor:
    """Beam search; the best beam by summed log-probability / length**length_penalty.

    Args:
        embeds: (B, L, H); mask: (B, L).

    Returns:
        (B, <= max_new_tokens) long token ids, EOS-filled after the end.
    """
    batch = embeds.size(0)
    embeds = embeds.repeat_interleave(num_beams, dim=0)  # (B*beams, L, H)
    mask = mask.repeat_interleave(num_beams, dim=0)
    scores = torch.zeros(batch, num_beams, device=embeds.device)
    scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    tokens = embeds.new_zeros(batch * num_beams, 0, dtype=torch.long)
    finished = torch.zeros(batch * num_beams, dtype=torch.bool, device=embeds.device)
    lengths = torch.zeros(batch * num_beams, device=embeds.device)
    for _ in range(max_new_tokens):
        logp = logits_fn(embeds, mask).float().log_softmax(dim=-1)  # (B*beams, V)
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
        embeds, mask = _append(embeds[source], mask[source], embed, step)
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
