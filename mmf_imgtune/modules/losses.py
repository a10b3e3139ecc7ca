"""Losses in MMF's form: ``loss(sample_list, model_output) -> scalar`` registered by name.

``Losses`` builds the list under ``model_config.<m>.losses`` (``[cross_entropy]`` or
``[{type, params}]``) and names each result ``{split}/{dataset}/{loss}`` like MMF.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmf_imgtune.registry import parse_spec, registry


@registry.register_loss("cross_entropy")
class CrossEntropyLoss(nn.Module):
    """``scores`` (B, C) logits against ``targets``: (B,) class ids or (B, C) probabilities."""

    def __init__(self, **params: Any):
        super().__init__()
        self.params = params

    def forward(self, sample_list: Any, model_output: dict) -> torch.Tensor:
        targets = sample_list["targets"]
        targets = targets.float() if targets.dim() == 2 else targets.long()
        return F.cross_entropy(model_output["scores"], targets, **self.params)


@registry.register_loss("logit_bce")
class LogitBinaryCrossEntropy(nn.Module):
    """Soft-score BCE on logits, scaled by the number of classes as MMF does for VQA."""

    def forward(self, sample_list: Any, model_output: dict) -> torch.Tensor:
        scores, targets = model_output["scores"], sample_list["targets"].float()
        loss = F.binary_cross_entropy_with_logits(scores, targets, reduction="mean")
        return loss * targets.size(1) if targets.dim() == 2 else loss


@registry.register_loss("bce")
class BinaryCrossEntropyLoss(nn.Module):
    """BCE on probabilities (``scores`` already passed through a sigmoid)."""

    def forward(self, sample_list: Any, model_output: dict) -> torch.Tensor:
        scores = model_output["scores"].float()
        targets = sample_list["targets"].float().view_as(scores)
        return F.binary_cross_entropy(scores, targets)


@registry.register_loss("caption_cross_entropy")
class CaptionCrossEntropyLoss(nn.Module):
    """Token-level cross entropy: ``scores`` (B, T, V) against ``targets`` (B, T).

    Positions equal to ``ignore_index`` (-100, or padding) never count; scores are assumed
    already aligned with targets (shifted by the model where needed).
    """

    def __init__(self, ignore_index: int = -100):
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, sample_list: Any, model_output: dict) -> torch.Tensor:
        scores, targets = model_output["scores"], sample_list["targets"].long()
        length = min(scores.size(1), targets.size(1))
        return F.cross_entropy(
            scores[:, :length].reshape(-1, scores.size(-1)),
            targets[:, :length].reshape(-1),
            ignore_index=self.ignore_index,
        )


class Losses(nn.Module):
    """The configured list of losses; returns ``{"{split}/{dataset}/{name}": value}``."""

    def __init__(self, loss_list: Any):
        super().__init__()
        self.names: list[str] = []
        self.losses = nn.ModuleList()
        for spec in loss_list or []:
            self.names.append(parse_spec(spec, "loss")[0])
            self.losses.append(registry.build("loss", spec))

    def forward(self, sample_list: Any, model_output: dict) -> dict[str, torch.Tensor]:
        split = sample_list.get("dataset_type", "train")
        dataset = sample_list.get("dataset_name", "dataset")
        return {
            f"{split}/{dataset}/{name}": loss(sample_list, model_output)
            for name, loss in zip(self.names, self.losses)
        }
