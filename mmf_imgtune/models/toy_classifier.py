"""``toy_classifier``: a small two-tower classifier for the runtime's tests and benchmarks."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.registry import registry


@registry.register_model("toy_classifier")
class ToyClassifier(BaseModel):
    """Mean-pooled word embeddings + mean-pooled region features -> MLP -> class logits."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/toy_classifier/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.image_proj = nn.Linear(cfg.feature_dim, cfg.hidden_size)
        self.classifier = nn.Sequential(
            nn.Linear(2 * cfg.hidden_size, cfg.hidden_size),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden_size, cfg.num_labels),
        )

    def forward(self, sample_list: Any) -> dict:
        dtype = self.image_proj.weight.dtype  # bf16 under bf16-true
        mask = sample_list["input_mask"].unsqueeze(-1).to(dtype)  # (B, T, 1)
        text = (self.embed(sample_list["input_ids"]) * mask).sum(1) / mask.sum(1).clamp(min=1)
        image = self.image_proj(sample_list["image_feature_0"].to(dtype)).mean(dim=1)  # (B, H)
        return {"scores": self.classifier(torch.cat([text, image], dim=-1))}
