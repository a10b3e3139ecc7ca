"""``unimodal_image``: MMF's "Image-Grid" and "Image-Region" baselines (arXiv 2005.04790).

``image_encoder.type=grid``: a torchvision ResNet over ``image``, average-pooled;
``image_encoder.type=region``: region features ``image_feature_0`` mean-pooled over the true
boxes (``image_info_0.num_boxes``). Either way an MLP classifies; the text is never read.
"""

from __future__ import annotations

from typing import Any

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import build_image_encoder, masked_mean, mlp_head
from mmf_imgtune.registry import registry


@registry.register_model("unimodal_image")
class UnimodalImage(BaseModel):
    """Reads ``image`` (grid) or ``image_feature_0`` + ``image_info_0`` (region)."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/unimodal_image/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        self.image = build_image_encoder(cfg)
        self.classifier = mlp_head(
            self.image.out_dim, int(cfg.classifier_hidden), int(cfg.num_labels), float(cfg.dropout)
        )

    def forward(self, sample_list: Any) -> dict:
        tokens, mask = self.image(sample_list)  # (B, N, D), (B, N)
        return {"scores": self.classifier(masked_mean(tokens, mask))}
