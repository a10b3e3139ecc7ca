"""Multi-head cross-attention with a key padding mask that also returns its weights.

Shared by the Perceiver resampler and the gated cross-attention blocks. Written out (rather
than ``nn.MultiheadAttention``) so the per-region weights are available for explanations and
so a query whose keys are all padding gets a zero output instead of NaN.
"""

from __future__ import annotations

import torch
from torch import nn


class MaskedCrossAttention(nn.Module):
    """Queries attend to keys/values; padded keys get zero weight.

    Args:
        dim: query width.
        kv_dim: key/value input width (``None``: ``dim``).
        num_heads: attention heads; ``dim`` must be divisible by it.
    """

    def __init__(self, dim: int, num_heads: int, kv_dim: int | None = None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(
                f"cross-attention width {dim} is not divisible by num_heads={num_heads}; "
                "change model_config.imgtune num_heads so it divides the LLM hidden size"
            )
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(kv_dim or dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            queries: (B, Q, dim) float.
            keys: (B, N, kv_dim) float.
            key_mask: (B, N) bool, True for real keys; ``None``: all real.

        Returns:
            output (B, Q, dim) and weights (B, Q, N) averaged over heads (0 on padded keys).
        """
        batch, num_q, _ = queries.shape
        num_k = keys.size(1)
        q = self.to_q(queries).view(batch, num_q, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = self.to_kv(keys).chunk(2, dim=-1)
        k = k.view(batch, num_k, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, N, d)
        v = v.view(batch, num_k, self.num_heads, self.head_dim).transpose(1, 2)
        logits = (q @ k.transpose(-1, -2)) * self.head_dim**-0.5  # (B, h, Q, N)
        if key_mask is not None:
            keep = key_mask[:, None, None, :].to(torch.bool)
            logits = logits.masked_fill(~keep, torch.finfo(logits.dtype).min)
        weights = logits.softmax(dim=-1)
        if key_mask is not None:
            # A row with no real key would spread weight over padding; zero it instead.
            weights = weights * keep.to(weights.dtype)
        out = (weights @ v).transpose(1, 2).reshape(batch, num_q, -1)  # (B, Q, dim)
        return self.to_out(out), weights.mean(dim=1)
