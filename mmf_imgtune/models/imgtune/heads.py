"""Task heads of ImgTune and their losses.

- ``generation``: the LM head itself; teacher-forced next-token loss on answer tokens only.
- ``vqa_classification`` / ``binary`` / ``classification``: an MLP over the LLM's last-token
  hidden state (the answer-classifier recipe of MMF's VQA models; pooling the last token as in
  LLM2Vec/SGPT): soft-score BCE over ``num_answers``, or cross entropy over two classes
  (``binary``) or ``num_labels`` classes (``classification``).
- ``retrieval``: a dual encoder with CLIP's symmetric InfoNCE (Radford et al. 2021).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmf_imgtune.modules.distributed import (
    data_parallel_rank,
    gather_with_grad,
    token_cross_entropy,
)

TASKS = ("generation", "vqa_classification", "binary", "classification", "retrieval")


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hidden state of the last real token (works for left or right padding).

    Args:
        hidden: (B, T, H); mask: (B, T) 0/1.

    Returns:
        (B, H).
    """
    positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)  # (1, T)
    last = (positions * mask.long()).argmax(dim=1)  # (B,)
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, K, H) tokens, (B, K) mask -> (B, H) mean over real tokens (0 when none)."""
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, across_ranks: bool = False) -> torch.Tensor:
    """Next-token cross entropy; positions labelled -100 never count.

    Args:
        logits: (B, T, V) for the text positions; labels: (B, T), -100 on prompt/padding.
        across_ranks: average over the scored tokens of every data-parallel rank (training),
            not over this rank's alone (ranks hold different numbers of answer tokens).
    """
    return token_cross_entropy(logits[:, :-1], labels[:, 1:], across_ranks)


class ClassifierHead(nn.Module):
    """(B, H) pooled state -> (B, num_outputs) logits through a two-layer MLP."""

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(hidden_size),
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_outputs),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        # The head's own dtype: float32 weights in 32/mixed precision, bf16 in bf16-true.
        return self.net(pooled.to(self.net[1].weight.dtype))


class RetrievalHead(nn.Module):
    """Projects pooled image and text states into one normalised space.

    Args:
        hidden_size: LLM width; embed_dim: joint space width; temperature: initial softmax
        temperature (learned, as in CLIP).
    """

    def __init__(self, hidden_size: int, embed_dim: int, temperature: float):
        super().__init__()
        self.image_proj = nn.Linear(hidden_size, embed_dim)
        self.text_proj = nn.Linear(hidden_size, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def forward(
        self, image: torch.Tensor, text: torch.Tensor, across_ranks: bool = False
    ) -> dict[str, torch.Tensor]:
        """Args:
            image: (B, H) pooled visual tokens; text: (B, H) pooled text state.
            across_ranks: contrast against the samples of every data-parallel rank (the
                global batch, as one process would), not this rank's alone.

        Returns:
            ``scores`` (B, B') image-to-text logits (B' = the global batch with
            ``across_ranks``, else B), ``image_embedding``/``text_embedding`` (B, E) unit
            vectors, ``loss`` the symmetric InfoNCE over the (global) batch.
        """
        dtype = self.image_proj.weight.dtype  # bf16 in bf16-true; the similarities in fp32
        image = F.normalize(self.image_proj(image.to(dtype)).float(), dim=-1)
        text = F.normalize(self.text_proj(text.to(dtype)).float(), dim=-1)
        all_image = gather_with_grad(image) if across_ranks else image  # (B', E)
        all_text = gather_with_grad(text) if across_ranks else text
        scale = self.logit_scale.float().exp().clamp(max=100)
        logits = scale * all_image @ all_text.t()  # (B', B')
        target = torch.arange(logits.size(0), device=logits.device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        start = data_parallel_rank() * image.size(0) if across_ranks else 0
        scores = logits[start : start + image.size(0)]  # (B, B') this rank's images
        return {"scores": scores, "image_embedding": image, "text_embedding": text, "loss": loss}
