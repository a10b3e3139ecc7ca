"""Tanh-gated cross-attention from text to visual tokens, inserted before decoder layers.

Follows Flamingo (Alayrac et al. 2022, arXiv 2204.14198, sec. 2.2) and open_flamingo's layout:
``GatedCrossAttentionBlock`` adds ``tanh(gate) * xattn(text, visual)`` and a gated feed-forward,
with both gates initialised at zero so the LLM is exactly unchanged at step 0.
``XAttnDecoderLayer`` wraps one HF decoder layer (an ordinary submodule swap, no patched HF
class) and runs the block before it, passing the layer's ``*args, **kwargs`` through unchanged.

The visual tokens are not stored on layers between calls: ``visual_context(layers, ...)`` sets
them for the duration of one forward (or one ``generate`` loop) and always clears them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from mmf_imgtune.modules.fusion.attention import MaskedCrossAttention


class GatedCrossAttentionBlock(nn.Module):
    """Args:
    dim: the LLM hidden size.
    num_heads: attention heads.
    ff_mult: feed-forward inner width as a multiple of ``dim``.
    """

    def __init__(self, dim: int, num_heads: int, ff_mult: int = 2):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = MaskedCrossAttention(dim, num_heads)
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ff = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, ff_mult * dim),
            nn.GELU(),
            nn.Linear(ff_mult * dim, dim),
        )
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(
        self, hidden: torch.Tensor, visual: torch.Tensor, visual_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            hidden: (B, T, dim) text hidden states entering the decoder layer.
            visual: (B, K, dim) visual tokens.
            visual_mask: (B, K) bool, True for real tokens.

        Returns:
            new hidden states (B, T, dim) and attention weights (B, T, K).
        """
        attended, weights = self.attn(self.norm(hidden), visual.to(hidden.dtype), visual_mask)
        hidden = hidden + self.attn_gate.tanh().to(hidden.dtype) * attended
        hidden = hidden + self.ff_gate.tanh().to(hidden.dtype) * self.ff(hidden)
        return hidden, weights


class XAttnDecoderLayer(nn.Module):
    """An HF decoder layer with a gated cross-attention block run before it.

    Args:
        decoder_layer: the original layer module (kept as ``self.decoder_layer``).
        xattn: the block to run first.
    """

    def __init__(self, decoder_layer: nn.Module, xattn: GatedCrossAttentionBlock):
        super().__init__()
        self.decoder_layer = decoder_layer
        self.xattn = xattn
        # Set only inside ``visual_context``; (visual, mask, record list or None).
        self._visual: tuple[torch.Tensor, torch.Tensor, list | None] | None = None

    @property
    def attention_type(self) -> str:
        """The wrapped layer's: transformers 4.x Qwen2 picks each layer's mask (full or
        sliding window) by reading ``decoder_layer.attention_type`` from the layer list."""
        value = getattr(self.decoder_layer, "attention_type", None)
        if value is None:
            raise AttributeError(f"{type(self.decoder_layer).__name__} has no attention_type")
        return value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._visual is None:
            return self.decoder_layer(*args, **kwargs)
        by_name = "hidden_states" in kwargs
        hidden = kwargs.pop("hidden_states") if by_name else args[0]
        visual, mask, record = self._visual
        if hidden.size(0) != visual.size(0):
            raise ValueError(
                f"cross-attention got {hidden.size(0)} text rows but {visual.size(0)} visual rows; "
                "expand the visual tokens to the text batch (e.g. per beam) before the forward"
            )
        hidden, weights = self.xattn(hidden, visual, mask)
        if record is not None:
            record.append(weights.detach())
        if by_name:
            return self.decoder_layer(*args, hidden_states=hidden, **kwargs)
        return self.decoder_layer(hidden, *args[1:], **kwargs)


@contextmanager
def visual_context(
    layers: Sequence[XAttnDecoderLayer],
    visual: torch.Tensor,
    visual_mask: torch.Tensor,
    record: list | None = None,
) -> Iterator[None]:
    """Make ``visual`` (B, K, dim) / ``visual_mask`` (B, K) visible to ``layers`` for one call.

    Args:
        record: a list to which each block appends its (B, T, K) attention weights, or None.
    """
    for layer in layers:
        layer._visual = (visual, visual_mask.to(torch.bool), record)
    try:
        yield
    finally:
        for layer in layers:
            layer._visual = None
