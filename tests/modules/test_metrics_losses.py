import pytest
import torch

from mmf_imgtune import SampleList
from mmf_imgtune.modules.losses import Losses
from mmf_imgtune.modules.metrics import Metrics


def _batch(targets, split="val"):
    batch = SampleList({"targets": targets})
    batch.dataset_name, batch.dataset_type = "d", split
    return batch


def test_metrics_are_computed_over_the_whole_split_not_averaged_per_batch():
    metrics = Metrics(["accuracy", "roc_auc", "binary_f1"])
    # batch 1: 1 of 1 right; batch 2: 1 of 3 right -> split accuracy 2/4 (per-batch mean: 2/3).
    metrics.update(_batch(torch.tensor([1])), {"scores": torch.tensor([[0.0, 1.0]])})
    metrics.update(
        _batch(torch.tensor([0, 0, 1])),
        {"scores": torch.tensor([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])},
    )
    result = metrics.compute("val", "d")
    assert result["val/d/accuracy"] == pytest.approx(0.5)
    assert result["val/d/roc_auc"] == pytest.approx(0.625)  # 2.5 of 4 pairs ordered
    assert set(result) == {"val/d/accuracy", "val/d/roc_auc", "val/d/binary_f1"}


def test_vqa_accuracy_uses_soft_scores():
    metrics = Metrics(["vqa_accuracy"])
    targets = torch.tensor([[0.0, 0.3, 1.0], [0.6, 0.0, 0.0]])
    metrics.update(_batch(targets), {"scores": torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])})
    assert metrics.compute("val", "d")["val/d/vqa_accuracy"] == pytest.approx((0.3 + 0.6) / 2)


def test_losses_are_keyed_split_dataset_name():
    losses = Losses(["cross_entropy", {"type": "logit_bce"}])
    batch = _batch(torch.tensor([[0.0, 1.0]]), split="train")
    out = losses(batch, {"scores": torch.tensor([[0.0, 3.0]])})
    assert set(out) == {"train/d/cross_entropy", "train/d/logit_bce"}
    assert all(torch.isfinite(v) for v in out.values())


def test_caption_loss_ignores_masked_positions():
    losses = Losses(["caption_cross_entropy"])
    scores = torch.randn(1, 3, 5)
    targets = torch.tensor([[2, -100, -100]])
    changed = scores.clone()
    changed[0, 1:] += 10
    a = losses(_batch(targets), {"scores": scores})["val/d/caption_cross_entropy"]
    b = losses(_batch(targets), {"scores": changed})["val/d/caption_cross_entropy"]
    assert torch.equal(a, b)
