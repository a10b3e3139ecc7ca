"""Multi-class metrics accumulated batch by batch equal torchmetrics' functional API (and a
by-hand macro F1) on the whole split's predictions; ImgTune's ``classification`` head trains."""

import pytest
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_f1_score,
)

from mmf_imgtune import SampleList
from mmf_imgtune.modules.metrics import MetricError, Metrics

CLASSES = 7


def _batch(targets):
    batch = SampleList({"targets": targets})
    batch.dataset_name, batch.dataset_type = "d", "val"
    return batch


def _macro_f1_by_hand(scores, targets):
    predicted = scores.argmax(dim=1)
    values = []
    for label in range(CLASSES):
        tp = int(((predicted == label) & (targets == label)).sum())
        fp = int(((predicted == label) & (targets != label)).sum())
        fn = int(((predicted != label) & (targets == label)).sum())
        values.append(2 * tp / (2 * tp + fp + fn))
    return sum(values) / CLASSES


def test_multiclass_metrics_over_batches_equal_functional_on_the_whole_split():
    generator = torch.Generator().manual_seed(0)
    targets = torch.arange(60) % CLASSES  # every class present
    scores = torch.randn(60, CLASSES, generator=generator)
    scores[torch.arange(60), targets] += 1.0  # better than chance, not perfect
    metrics = Metrics(["macro_f1", "macro_roc_auc", "top5_accuracy", "accuracy"])
    for start in range(0, 60, 16):  # uneven last batch
        rows = slice(start, start + 16)
        # One-hot targets in one batch: class ids and one-hot rows are both accepted.
        batch_targets = targets[rows] if start else torch.eye(CLASSES)[targets[rows]]
        metrics.update(_batch(batch_targets), {"scores": scores[rows]})
    result = metrics.compute("val", "d")
    probs = scores.softmax(dim=1)
    expected = {
        "macro_f1": multiclass_f1_score(probs, targets, CLASSES, average="macro"),
        "macro_roc_auc": multiclass_auroc(probs, targets, CLASSES, average="macro"),
        "top5_accuracy": multiclass_accuracy(probs, targets, CLASSES, top_k=5, average="micro"),
        "accuracy": (scores.argmax(1) == targets).float().mean(),
    }
    for name, value in expected.items():
        assert result[f"val/d/{name}"] == pytest.approx(float(value), abs=1e-6), name
    assert result["val/d/macro_f1"] == pytest.approx(_macro_f1_by_hand(scores, targets), abs=1e-6)
    # top-5 counts more than top-1 here (the scores are noisy).
    assert result["val/d/top5_accuracy"] > result["val/d/accuracy"]


def test_multiclass_metric_refuses_a_single_logit_and_reports_nothing_scored():
    metrics = Metrics(["macro_f1"])
    with pytest.raises(ValueError, match="C >= 2"):
        metrics.update(_batch(torch.tensor([0, 1])), {"scores": torch.tensor([0.2, 0.9])})
    metrics = Metrics([{"type": "macro_roc_auc", "params": {"num_classes": 3}}])
    with pytest.raises(MetricError, match="no sample was scored"):
        metrics.metrics[0].compute()


def test_imgtune_classification_head_has_num_labels_outputs_and_learns():
    from imgtune_helpers import build, make_batch, train_steps

    with pytest.raises(ValueError, match="num_labels >= 2"):
        build(task="classification")
    model = build(task="classification", num_labels=3)
    batch = make_batch()
    batch.targets = torch.arange(8) % 3
    model.eval()
    assert model(batch)["scores"].shape == (8, 3)
    history = train_steps(model, batch, 15)
    assert history[-1] < 0.5 * history[0]
