"""mmf_imgtune's metrics as MMF metrics: stateless ``calculate(report)`` over a whole split.

Our metrics accumulate (``update`` per batch, ``compute`` once). MMF's evaluation loop instead
concatenates every batch's ``required_params`` fields into one report (tensors are
concatenated, lists extended) and calls ``metric.calculate(report, report)`` once per split,
so one ``reset`` / ``update`` / ``compute`` on that report gives the whole-split value.
This module needs no MMF; ``mmf_imgtune_mmf.metrics`` registers the adapters in MMF's registry.
"""

from __future__ import annotations

from typing import Any

import torch

from mmf_imgtune.registry import registry as imgtune_registry

# MMF registry name = this prefix + our metric name: MMF already owns accuracy, binary_f1,
# roc_auc, vqa_accuracy, bleu4, ... (with per-batch-compatible but different semantics).
PREFIX = "imgtune_"

# What each of our metrics reads from MMF's combined report (MMF gathers only these fields).
_TEXT = ["generated_text", "captions", "answers"]
REQUIRED_PARAMS: dict[str, list[str]] = {
    "accuracy": ["scores", "targets"],
    "binary_f1": ["scores", "targets"],
    "roc_auc": ["scores", "targets"],
    "vqa_accuracy": ["scores", "targets"],
    "bleu4": _TEXT,
    "cider": _TEXT,
    "generation_vqa_accuracy": _TEXT,
    "recall_at_k": ["image_embedding", "text_embedding"],
    "recall_at_1": ["image_embedding", "text_embedding"],
    "recall_at_5": ["image_embedding", "text_embedding"],
    "recall_at_10": ["image_embedding", "text_embedding"],
}


def adapted_names() -> list[str]:
    """Our metric names that get an MMF adapter (those whose report fields we know)."""
    return [name for name in imgtune_registry.names("metric") if name in REQUIRED_PARAMS]


def calculate(name: str, report: Any, params: dict | None = None) -> torch.Tensor:
    """Our metric ``name`` computed once over a whole-split ``report``.

    Args:
        name: our registry name (``vqa_accuracy``, ``cider``, ...), without ``PREFIX``.
        report: a mapping holding the fields of ``REQUIRED_PARAMS[name]`` for every sample.
        params: the metric's constructor keywords (MMF's ``metrics: [{type, params}]``).
    Returns:
        A 0-d float tensor (MMF logs and compares tensors).
    """
    metric = imgtune_registry.get_metric_class(name)(**(params or {}))
    metric.reset()
    metric.update(report, report)
    return torch.tensor(float(metric.compute()))
