"""Frozen matmul weights stored once in the autocast dtype, instead of re-cast at every step.

Under ``bf16-mixed`` autocast runs every ``nn.Linear`` in bf16: it casts the fp32 weight at
each call, and caches the cast only for weights that train (leaves with ``requires_grad``).
A frozen LLM base (LoRA, ``lm_training: frozen``) is therefore converted in full, every
forward: for SmolLM2-135M that is ~0.8 GB of memory traffic a step, and the profile of a
bf16-mixed step showed ``aten::copy_`` at 6% of it (docs/speed.md). Casting those weights once
gives autocast bf16 weights to pass through: the same rounding, so the same numbers, without
the copies. Trained weights (LoRA adapters, projector, heads), their optimizer state and
everything autocast keeps in fp32 (norms, softmax, the loss) stay fp32.

Not cast: a linear whose weight is shared with an embedding (tied LM heads: the embedding
output, the residual stream's start, would turn bf16 too), and anything under FSDP (whose flat
parameters need one dtype per unit; its own ``MixedPrecision`` casts instead).
"""

from __future__ import annotations

import torch
from torch import nn

# Mixed precision -> the dtype autocast computes linears in.
AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def _embedding_weights(model: nn.Module) -> set[int]:
    return {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}


def cast_frozen_linears(model: nn.Module, dtype: torch.dtype) -> int:
    """Cast the weight and bias of every fully frozen ``nn.Linear`` to ``dtype`` in place.

    Returns:
        the number of parameters cast.
    """
    tied = _embedding_weights(model)
    cast = 0
    for module in model.modules():
        if not isinstance(module, nn.Linear) or id(module.weight) in tied:
            continue
        params = [p for p in (module.weight, module.bias) if p is not None]
        if any(p.requires_grad for p in params) or all(p.dtype == dtype for p in params):
            continue
        for param in params:
            param.data = param.data.to(dtype)
            cast += param.numel()
    return cast


def keep_frozen_in_autocast_dtype(model: nn.Module, precision: str, strategy: str) -> int:
    """``cast_frozen_linears`` where it applies: mixed precision, not FSDP. Returns the count."""
    dtype = AUTOCAST_DTYPES.get(precision)
    if dtype is None or strategy == "fsdp":
        return 0
    return cast_frozen_linears(model, dtype)
