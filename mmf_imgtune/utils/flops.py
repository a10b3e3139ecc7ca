"""Training FLOPs of a step, with attention counted and frozen weights counted right.

The PaLM paper's estimate (Chowdhery et al. 2022, appendix B) counts ``6N`` FLOPs per token
for N parameters: 2N forward, 2N for the gradient of the activations and 2N for the gradient
of the weights, plus ``12 * layers * heads * head_dim * T`` for attention over T positions.
Two corrections matter for ImgTune:

- A frozen weight (``lm_training: frozen``, and LoRA's base weights) gets no weight gradient:
  ``4N`` per token, not 6N. Activation gradients still flow through it to the trainable
  layers below (we count them for every layer, the usual convention; frozen layers below the
  lowest trainable one would not need them).
- Parameters are not tokens x weights: the region encoder runs on regions, the LM head may
  not run at all (classifier heads), LoRA adds its own small matmuls. So the matmuls are
  counted from one real forward pass: a hook on every ``nn.Linear`` (and transformers'
  ``Conv1D``, GPT-2's) adds ``2 * rows * in * out`` to the trainable or the frozen sum by
  its weight's ``requires_grad``.

Attention scores (Q K^T) and the weighted sum (A V) are ``2 * 2 * Tq * Tk * width`` forward
FLOPs per layer (width = heads x head_dim), the full square as in PaLM (a causal kernel may
skip half), and 3x that for training (no weights: the backward pass is two such matmuls).
Not counted: softmax, norms, activations, embedding look-ups, the optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class StepFlops:
    """FLOPs of one training step (one forward + backward over one batch)."""

    # Forward matmul FLOPs through weights that train / that are frozen.
    trainable_forward: float
    frozen_forward: float
    # Forward attention FLOPs (Q K^T and A V of every self- and cross-attention layer).
    attention_forward: float

    @property
    def forward(self) -> float:
        return self.trainable_forward + self.frozen_forward + self.attention_forward

    @property
    def training(self) -> float:
        """Forward + backward: 3x for trainable weights (6N per token), 2x for frozen ones
        (4N: no weight gradient), 3x for attention."""
        return 3 * self.trainable_forward + 2 * self.frozen_forward + 3 * self.attention_forward


def _matmul_layers() -> tuple[type, ...]:
    try:
        # lazy: transformers loads only when FLOPs are counted
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # not a transformers install: plain PyTorch layers only
        return (nn.Linear,)
    return (nn.Linear, Conv1D)


def count_matmul_flops(model: nn.Module, run_forward: Callable[[], Any]) -> tuple[float, float]:
    """Forward FLOPs of every linear layer ``run_forward()`` calls, split by whether its
    weight trains.

    Returns:
        (trainable, frozen) forward FLOPs.
    """
    totals = [0.0, 0.0]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        weight = module.weight
        rows = output.numel() // output.size(-1)  # every position of every sample
        flops = 2.0 * rows * weight.numel()
        totals[0 if weight.requires_grad else 1] += flops

    layers = _matmul_layers()
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, layers)]
    try:
        with torch.no_grad():
            run_forward()
    finally:
        for handle in handles:
            handle.remove()
    return totals[0], totals[1]


def attention_flops(
    layers: int, width: int, query_tokens: int, key_tokens: int, batch: int = 1
) -> float:
    """Forward FLOPs of Q K^T and A V: ``2 * 2 * batch * Tq * Tk * width`` per layer.

    Args:
        width: heads x head_dim of the queries (grouped KV heads are read, not multiplied,
            fewer times: the FLOPs follow the query heads).
    """
    return 4.0 * layers * batch * query_tokens * key_tokens * width


def lm_attention_width(lm_config: Any) -> int:
    """heads x head_dim of an HF decoder config (``head_dim`` if set, else hidden / heads)."""
    heads = int(getattr(lm_config, "num_attention_heads", None) or lm_config.n_head)
    hidden = int(getattr(lm_config, "hidden_size", None) or lm_config.n_embd)
    head_dim = getattr(lm_config, "head_dim", None) or hidden // heads
    return heads * int(head_dim)


def imgtune_step_flops(model: nn.Module, batch: Any) -> StepFlops:
    """FLOPs of one ImgTune training step on ``batch`` (any task and fusion).

    The matmuls are counted from one forward pass of ``model`` on ``batch`` (no gradients);
    the LLM's self-attention runs over the padded sequence (visual prefix + text) on every
    decoder layer, each cross-attention block over text x visual tokens.
    """
    lm_config = model.lm.config  # the HF config (a peft wrapper forwards it)
    layers = int(getattr(lm_config, "num_hidden_layers", None) or lm_config.n_layer)
    width = lm_attention_width(lm_config)
    cfg = model.config
    was_training = model.training
    model.train()  # a training step's forward (in eval, generation would also decode)
    try:
        trainable, frozen = count_matmul_flops(model, lambda: model(batch))
        visual = model.encode_regions(batch) if hasattr(model, "encode_regions") else None
    finally:
        model.train(was_training)
    ids = batch["input_ids"] if cfg.task == "generation" else batch.get("prompt_ids")
    ids = batch["input_ids"] if ids is None else ids
    size, text = ids.shape
    visual_tokens = int(visual["tokens"].size(1)) if visual is not None else 0
    prefix = visual_tokens if cfg.fusion in ("prefix", "both") and cfg.task != "retrieval" else 0
    attention = attention_flops(layers, width, text + prefix, text + prefix, size)
    blocks = len(getattr(model, "xattn_layers", []))  # gated blocks attend at the LLM width
    attention += attention_flops(blocks, int(lm_config.hidden_size), text, visual_tokens, size)
    return StepFlops(trainable, frozen, attention)
