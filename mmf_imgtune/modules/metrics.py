"""Whole-split metrics registered by name, with MMF's keys ``{split}/{dataset}/{metric}``.

Each metric accumulates over every batch of a split (``update``) and is computed once at the
end (``compute``), never averaged per batch. They are torchmetrics ``Metric``s, so DDP runs
gather states across processes before computing.

A metric names the batch fields it scores against (``reference_fields``: any one of them, e.g.
``targets``, or ``captions``/``answers`` for text). A batch without them is not scored by it;
a split where no configured metric found its references is unlabelled (e.g. Hateful Memes'
test_unseen: predictions only), and a metric left with nothing to score in a labelled split
raises ``MetricError`` naming the split and the missing field. No metric reports a 0.0 for
"nothing was scored".
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn
from torchmetrics.classification import BinaryAUROC, BinaryF1Score

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.modules.vqa_eval import score_rule
from mmf_imgtune.registry import parse_spec, registry


class MetricError(MMFImgtuneError, ValueError):
    """A metric had nothing to score; the message names the split, metric and field."""


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
    """``update(sample_list, model_output)``, ``compute() -> float``, ``reset()``.

    ``reference_fields``: batch fields the metric scores against (any one suffices; empty:
    it needs none); ``scored`` counts the samples updated since the last reset, and
    ``compute`` raises ``MetricError`` when it is 0.
    """

    reference_fields: tuple[str, ...] = ("targets",)

    def __init__(self, **params: Any):
        super().__init__()
        self.params = params
        self.scored = 0

    def has_references(self, sample_list: Any) -> bool:
        fields = self.reference_fields
        return not fields or any(field in sample_list for field in fields)

    def update(self, sample_list: Any, model_output: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def compute(self) -> float:  # pragma: no cover
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def note(self) -> str | None:
        """How the last ``compute`` scored, when that is a choice a reader must know (the
        tokenizer, the VQA rule); written beside the value in metrics.json and reports."""
        return None


def nothing_scored(metric: BaseMetric) -> MetricError:
    fields = " or ".join(f"'{f}'" for f in metric.reference_fields) or "its inputs"
    return MetricError(f"{type(metric).__name__}: no sample was scored (no batch carried {fields})")


class _TorchmetricsMetric(BaseMetric):
    def __init__(self, metric: torchmetrics.Metric, **params: Any):
        super().__init__(**params)
        self.metric = metric

    def compute(self) -> float:
        if not self.metric.update_count:
            raise nothing_scored(self)
        return float(self.metric.compute())

    def reset(self) -> None:
        self.metric.reset()
        self.scored = 0


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
    """VQA accuracy of a classifier: the target soft score of the predicted answer. The
    targets are the official VQA accuracy of each answer (``AnswerVocab.soft_scores``), so
    this equals the official evaluation of the predicted answers; the note names the rule
    (from the batch's ``answers``, when it carries them)."""

    def __init__(self, **params: Any):
        super().__init__(torchmetrics.MeanMetric(), **params)
        self.rules: set[str] = set()

    def note(self) -> str:
        rules = sorted(self.rules) or ["the dataset's soft-score targets"]
        return "rule: " + "; ".join(rules)

    def reset(self) -> None:
        super().reset()
        self.rules = set()

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
        self.rules.update(score_rule(len(answers)) for answers in sample_list.get("answers") or [])


class Metrics(nn.Module):
    """The configured metrics for one dataset and split.

    Args:
        metric_list: ``evaluation.metrics``: names or ``{type, params}``.
    """

    def __init__(self, metric_list: Any):
        super().__init__()
        self.names: list[str] = []
        self.metrics = nn.ModuleList()
        self.batches = 0  # batches seen since the last reset
        self.notes: dict[str, str] = {}  # metric key -> how it scored (set by compute)
        self.generation: dict | None = None  # generated-text variety (set by compute)
        for spec in metric_list or []:
            name = parse_spec(spec, "metric")[0]
            # ``key`` renames a metric's logged value (two of one type with other params).
            self.names.append(name if isinstance(spec, str) else str(spec.get("key", name)))
            self.metrics.append(registry.build("metric", spec))

    def update(self, sample_list: Any, model_output: dict) -> None:
        """Score the batch with every metric whose references it carries."""
        size = sample_list.get_batch_size() if hasattr(sample_list, "get_batch_size") else 1
        self.batches += 1
        for metric in self.metrics:
            if metric.has_references(sample_list):
                metric.update(sample_list, model_output)
                metric.scored += size

    def labelled(self) -> bool:
        """Whether any metric found its references in this split (else: predictions only)."""
        return any(metric.scored for metric in self.metrics)

    def missing_references(self) -> str:
        fields = sorted({f for metric in self.metrics for f in metric.reference_fields})
        return " / ".join(fields)

    def compute(self, split: str, dataset: str) -> dict[str, float]:
        """Every metric's value; raises ``MetricError`` for one that scored nothing.

        Call only for a labelled split (``labelled()``); an unlabelled one has no metrics.
        """
        results = {}
        for name, metric in zip(self.names, self.metrics):
            key = f"{split}/{dataset}/{name}"
            if not metric.scored:
                fields = " or ".join(f"'{f}'" for f in metric.reference_fields)
                raise MetricError(
                    f"{key}: nothing to score: no batch of {dataset}'s {split} split carries "
                    f"{fields}, which {name} needs, while the split's other metrics found their "
                    "references. Give the split those references or drop the metric from "
                    "evaluation.metrics"
                )
            try:
                results[key] = metric.compute()
            except MetricError as error:
                raise MetricError(f"{key}: {error}") from None
            note = metric.note()
            if note:
                self.notes[key] = note
            summarise = getattr(metric, "generation_summary", None)
            if summarise is not None and self.generation is None:
                self.generation = summarise()
        return results

    def reset(self) -> None:
        self.batches = 0
        self.notes, self.generation = {}, None
        for metric in self.metrics:
            metric.reset()
            metric.scored = 0
