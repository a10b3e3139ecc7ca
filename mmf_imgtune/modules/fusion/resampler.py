"""Perceiver resampler: compress N region tokens to K learned query tokens.

Follows Flamingo (Alayrac et al. 2022, arXiv 2204.14198, sec. 2.1): learned latents attend to
the concatenation of the visual tokens and the latents themselves, then a feed-forward layer,
both residual. Keys include the latents, so a scene with zero boxes still gives finite output.
"""

from __future__ import annotations

import torch
from torch import nn

from mmf_imgtune.modules.fusion.attention import MaskedCrossAttention


class PerceiverResampler(nn.Module):
    """Args:
    dim: token width (the LLM hidden size).
    num_latents: K, the number of output tokens.
    depth: resampler layers.
    num_heads: attention heads.
    ff_mult: feed-forward inner width as a multiple of ``dim``.
    """

    def __init__(self, dim: int, num_latents: int, depth: int, num_heads: int, ff_mult: int = 2):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * dim**-0.5)
        self.layers = nn.ModuleList()
        for _ in range(depth):
            self.layers.append(
                nn.ModuleDict(
                    {
                        "norm_media": nn.LayerNorm(dim),
                        "norm_latents": nn.LayerNorm(dim),
                        "attn": MaskedCrossAttention(dim, num_heads),
                        "ff": nn.Sequential(
                            nn.LayerNorm(dim),
                            nn.Linear(dim, ff_mult * dim),
                            nn.GELU(),
                            nn.Linear(ff_mult * dim, dim),
                        ),
                    }
                )
            )
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            tokens: (B, N, dim) visual tokens.
            mask: (B, N) bool, True for real regions.

        Returns:
            latents (B, K, dim) and region attention (B, K, N) of the last layer
            (head-averaged; rows need not sum to 1 because latents also attend to latents).
        """
        batch, num_regions = mask.shape
        latents = self.latents.unsqueeze(0).expand(batch, -1, -1)  # (B, K, dim)
        latent_mask = torch.ones(batch, latents.size(1), dtype=torch.bool, device=mask.device)
        key_mask = torch.cat([mask.to(torch.bool), latent_mask], dim=1)  # (B, N + K)
        weights = None
        for layer in self.layers:
            media = layer["norm_media"](tokens)
            normed = layer["norm_latents"](latents)
            keys = torch.cat([media, normed], dim=1)  # (B, N + K, dim)
            attended, weights = layer["attn"](normed, keys, key_mask)
            latents = latents + attended
            latents = latents + layer["ff"](latents)
        return self.norm(latents), weights[:, :, :num_regions]
