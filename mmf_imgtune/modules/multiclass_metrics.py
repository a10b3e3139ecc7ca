"""Whole-split metrics of multi-class classification (``num_labels`` > 2), from torchmetrics.

``macro_f1`` (F1 per class, then their unweighted mean), ``macro_roc_auc`` (one-vs-rest AUROC
per class from the softmax probabilities, unweighted mean) and ``top5_accuracy`` (the target is
among the five highest scores; with C <= 5 classes every prediction counts, so it reads 1.0).
Scores are (B, C) logits; targets (B,) class ids or (B, C) one-hot / soft scores (argmax).

The number of classes C is ``params.num_classes`` or, when not given, the width of the first
scored batch (every rank scores at least one batch, so DDP states match); the torchmetrics
object is then built on that batch's device.
"""

from __future__ import annotations

from typing import Any

from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

from mmf_imgtune.modules.metrics import BaseMetric, class_targets, nothing_scored
from mmf_imgtune.registry import registry


class _MulticlassMetric(BaseMetric):
    """Builds its torchmetrics object once C is known; ``make(num_classes)`` returns it."""

    def __init__(self, num_classes: int | None = None, **params: Any):
        super().__init__(num_classes=num_classes, **params)
        self.num_classes = num_classes
        self.metric = None if num_classes is None else self.make(int(num_classes))

    def make(self, num_classes: int):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def update(self, sample_list: Any, model_output: dict) -> None:
        scores = model_output["scores"].detach().float()
        if scores.dim() != 2 or scores.size(1) < 2:
            raise ValueError(
                f"{type(self).__name__} needs (B, C) class scores with C >= 2; got shape "
                f"{tuple(scores.shape)}. Use accuracy/binary_f1/roc_auc for a single logit"
            )
        if self.metric is None:
            self.num_classes = scores.size(1)
            self.metric = self.make(self.num_classes).to(scores.device)
        elif scores.size(1) != self.num_classes:
            raise ValueError(
                f"{type(self).__name__}: scores have {scores.size(1)} classes, the metric "
                f"{self.num_classes} (params.num_classes or the first batch)"
            )
        self.metric.update(scores.softmax(dim=1), class_targets(sample_list["targets"].detach()))

    def compute(self) -> float:
        if self.metric is None or not self.metric.update_count:
            raise nothing_scored(self)
        return float(self.metric.compute())

    def reset(self) -> None:
        if self.metric is not None:
            self.metric.reset()
        self.scored = 0


@registry.register_metric("macro_f1")
class MacroF1(_MulticlassMetric):
    def make(self, num_classes: int):
        return MulticlassF1Score(num_classes=num_classes, average="macro")


@registry.register_metric("macro_roc_auc")
class MacroRocAuc(_MulticlassMetric):
    def make(self, num_classes: int):
        return MulticlassAUROC(num_classes=num_classes, average="macro")


@registry.register_metric("top5_accuracy")
class Top5Accuracy(_MulticlassMetric):
    def make(self, num_classes: int):
        top_k = min(5, num_classes)  # torchmetrics refuses top_k > C
        return MulticlassAccuracy(num_classes=num_classes, top_k=top_k, average="micro")
