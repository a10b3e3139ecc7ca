"""Losses that see the whole global batch under data parallelism (DDP, FSDP).

DDP and FSDP average the gradients of the ranks' losses. That equals the gradient of the
single-process loss only when every rank's loss is a mean over equally many terms of its own
samples. Two of our losses are not: a token-level mean (ranks hold different numbers of answer
tokens) and an in-batch contrastive loss (the negatives of one rank are only part of the
batch). These helpers make both exact: the token count is summed over ranks, and contrastive
embeddings are gathered with their gradients (as open_clip's ``gather_with_grad`` does).
Outside a process group they are the plain single-process computations.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F


def data_parallel_size() -> int:
    """The number of processes training together (1 without a process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def data_parallel_rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if data_parallel_size() > 1 else 0


def mean_over_ranks(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``sum(total) / sum(count)`` over every rank, as this rank's share of the loss.

    Args:
        total: this rank's summed loss terms (a scalar with gradient).
        count: this rank's number of terms (a scalar, no gradient needed).

    Returns:
        a scalar whose gradient, averaged over the ranks (what DDP/FSDP do), is the gradient
        of the global mean; without a process group, ``total / count``.
    """
    world = data_parallel_size()
    count = count.detach().to(total.dtype)
    if world == 1:
        return total / count.clamp(min=1)
    count = count.clone()
    dist.all_reduce(count)  # every rank's terms
    return total * world / count.clamp(min=1)


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """(B, ...) on each rank -> (world * B, ...) in rank order, gradients flowing back.

    The backward sums the gradients every rank computes for this rank's rows, so a loss
    computed identically on every rank from the gathered rows, then averaged by DDP, takes the
    single-process gradient. Every rank must pass the same shape (training batches are equal).
    """
    if data_parallel_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rows = tensor.size(0)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every rank's gradient for every row
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def token_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, across_ranks: bool = False
) -> torch.Tensor:
    """Cross entropy averaged over the scored tokens (targets != -100).

    Args:
        logits: (B, T, V), already aligned with ``targets`` (B, T).
        across_ranks: average over the scored tokens of every rank (training), not over this
            rank's alone.
    """

    flat, flat_targets = logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1)
    if not across_ranks:
        return F.cross_entropy(flat, flat_targets, ignore_index=-100)
    total = F.cross_entropy(flat, flat_targets, ignore_index=-100, reduction="sum")
    return mean_over_ranks(total, (flat_targets != -100).sum())
