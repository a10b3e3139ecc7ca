"""Whole-split metrics registered by name, with MMF's keys ``{split}/{dataset}/{metric}``.

Each metric accumulates over every batch of a split (``update``) and is computed once at the
end (``compute``), never averaged per batch. They are torchmetrics ``Metric``s, so DDP runs
gather states across processes before computing.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn
from torchmetrics.classification import BinaryAUROC, BinaryF1Score

from mmf_imgtune.registry import registry


def class_targets(targets: torch.Tensor) -> torch.Tensor:
    """Class ids from ``targets``: ids as they are, soft/one-hot scores by argmax."""
    return targets.argmax(dim=-1) if targets.dim() == 2 else targets.long().view(-1)


def positive_probability(scores: torch.Tensor) -> torch.Tensor:
    """P(class 1) from two-class logits (B, 2) or a single logit (B,)/(B, 1)."""
    scores = scores.float()
    if scores.dim() == 2 and scores.size(1) == 2:
        return torch.softmax(scores, dim=1)[:, 1]
    return torch.sigmoid(scores.view(-1))


class BaseMetric(nn.Module):
    """``update(sample_list, model_output)``, ``compute() -> float``, ``reset()``."""

    def __init__(self, **params: Any):
        super().__init__()
        self.params = params

    def update(self, sample_list: Any, model_output: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def compute(self) -> float:  # pragma: no cover
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover
        raise NotImplementedError


class _TorchmetricsMetric(BaseMetric):
    def __init__(self, metric: torchmetrics.Metric, **params: Any):
        super().__init__(**params)
        self.metric = metric

    def compute(self) -> float:
        return float(self.metric.compute())

    def reset(self) -> None:
        self.metric.reset()


@registry.register_metric("accuracy")
class Accuracy(_TorchmetricsMetric):
    """Top-1 accuracy; binary scores (one logit) are thresholded at 0.5 probability."""

    def __init__(self, **params: Any):
        super().__init__(torchmetrics.MeanMetric(), **params)

    def update(self, sample_list: Any, model_output: dict) -> None:
        scores = model_output["scores"].detach()
        if scores.dim() == 2 and scores.size(1) > 1:
            predicted = scores.argmax(dim=1)
        else:
            predicted = (positive_probability(scores) > 0.5).long()
        targets = class_targets(sample_list["targets"].detach())
        self.metric.update((predicted == targets).float())


@registry.register_metric("binary_f1")
class BinaryF1(_TorchmetricsMetric):
    def __init__(self, **params: Any):
        super().__init__(BinaryF1Score(), **params)

    def update(self, sample_list: Any, model_output: dict) -> None:
        probability = positive_probability(model_output["scores"].detach())
        self.metric.update(probability, class_targets(sample_list["targets"].detach()))


@registry.register_metric("roc_auc")
class RocAuc(_TorchmetricsMetric):
    def __init__(self, **params: Any):
        super().__init__(BinaryAUROC(), **params)

    def update(self, sample_list: Any, model_output: dict) -> None:
        probability = positive_probability(model_output["scores"].detach())
        self.metric.update(probability, class_targets(sample_list["targets"].detach()))


@registry.register_metric("vqa_accuracy")
class VQAAccuracy(_TorchmetricsMetric):
    """VQA accuracy with MMF's soft scores: the target score of the predicted answer."""

    def __init__(self, **params: Any):
        super().__init__(torchmetrics.MeanMetric(), **params)

    def update(self, sample_list: Any, model_output: dict) -> None:
        scores = model_output["scores"].detach()
        targets = sample_list["targets"].detach().float()
        if targets.dim() != 2:
            raise ValueError(
                "vqa_accuracy needs soft answer scores as targets (B, num_answers); got shape "
                f"{tuple(targets.shape)}. Use 'accuracy' for class ids."
            )
        predicted = scores.argmax(dim=1, keepdim=True)
        self.metric.update(targets.gather(1, predicted).view(-1))


class Metrics(nn.Module):
    """The configured metrics for one dataset and split.

    Args:
        metric_list: ``evaluation.metrics``: names or ``{type, params}``.
    """

    def __init__(self, metric_list: Any):
        super().__init__()
        self.names: list[str] = []
        self.metrics = nn.ModuleList()
        for spec in metric_list or []:
            if isinstance(spec, str):
                name, params = spec, {}
            else:
                name, params = spec["type"], dict(spec.get("params") or {})
            self.names.append(str(spec.get("key", name)) if not isinstance(spec, str) else name)
            self.metrics.append(registry.get_metric_class(name)(**params))

    def update(self, sample_list: Any, model_output: dict) -> None:
        for metric in self.metrics:
            metric.update(sample_list, model_output)

    def compute(self, split: str, dataset: str) -> dict[str, float]:
        return {
            f"{split}/{dataset}/{name}": metric.compute()
            for name, metric in zip(self.names, self.metrics)
        }

    def reset(self) -> None:
        for metric in self.metrics:
            metric.reset()
