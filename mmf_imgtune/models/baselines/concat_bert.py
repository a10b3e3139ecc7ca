"""``concat_bert``: MMF's "Concat BERT" baseline (Kiela et al. 2020, arXiv 2005.04790).

Pooled BERT text and pooled image features (region or grid) are concatenated and classified
by an MLP: the simplest early fusion.
"""

from __future__ import annotations

from typing import Any

import torch

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import (
    TextEncoder,
    build_image_encoder,
    masked_mean,
    mlp_head,
)
from mmf_imgtune.registry import registry


@registry.register_model("concat_bert")
class ConcatBert(BaseModel):
    """Returns ``scores`` = MLP([text (B, H); image (B, D)]) of shape (B, num_labels)."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/concat_bert/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        self.text = TextEncoder(cfg)
        self.image = build_image_encoder(cfg)
        self.classifier = mlp_head(
            self.text.out_dim + self.image.out_dim,
            int(cfg.classifier_hidden),
            int(cfg.num_labels),
            float(cfg.dropout),
        )

    def forward(self, sample_list: Any) -> dict:
        tokens, mask = self.image(sample_list)  # (B, N, D), (B, N)
        fused = torch.cat([self.text(sample_list), masked_mean(tokens, mask)], dim=-1)
        return {"scores": self.classifier(fused)}
