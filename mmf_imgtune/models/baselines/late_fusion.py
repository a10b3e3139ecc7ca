"""``late_fusion``: MMF's "Late Fusion" baseline (Kiela et al. 2020, arXiv 2005.04790).

A text classifier (BERT, pooled) and an image classifier (region or grid features, pooled)
are trained jointly; their logits are averaged. The modalities never interact before the
output, which is what the fusion baselines are measured against.
"""

from __future__ import annotations

from typing import Any

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import (
    TextEncoder,
    build_image_encoder,
    masked_mean,
    mlp_head,
)
from mmf_imgtune.registry import registry


@registry.register_model("late_fusion")
class LateFusion(BaseModel):
    """Returns ``scores`` = mean of the text and image classifiers' logits (B, num_labels)."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/late_fusion/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        hidden, labels, dropout = (
            int(cfg.classifier_hidden),
            int(cfg.num_labels),
            float(cfg.dropout),
        )
        self.text = TextEncoder(cfg)
        self.image = build_image_encoder(cfg)
        self.text_classifier = mlp_head(self.text.out_dim, hidden, labels, dropout)
        self.image_classifier = mlp_head(self.image.out_dim, hidden, labels, dropout)

    def forward(self, sample_list: Any) -> dict:
        tokens, mask = self.image(sample_list)  # (B, N, D), (B, N)
        text_scores = self.text_classifier(self.text(sample_list))
        image_scores = self.image_classifier(masked_mean(tokens, mask))
        return {"scores": (text_scores + image_scores) / 2}
