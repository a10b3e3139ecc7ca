"""``unimodal_text``: MMF's "Text BERT" baseline (Kiela et al. 2020, arXiv 2005.04790).

BERT over the tokenised text, pooled [CLS], MLP classifier. It never sees the image, so on
tasks that need both modalities it measures how far text priors alone go.
"""

from __future__ import annotations

from typing import Any

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import TextEncoder, mlp_head
from mmf_imgtune.registry import registry


@registry.register_model("unimodal_text")
class UnimodalText(BaseModel):
    """Reads ``input_ids``, ``input_mask``, ``segment_ids``; returns ``scores`` (B, num_labels)."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/unimodal_text/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        self.text = TextEncoder(cfg)
        self.classifier = mlp_head(
            self.text.out_dim, int(cfg.classifier_hidden), int(cfg.num_labels), float(cfg.dropout)
        )

    def forward(self, sample_list: Any) -> dict:
        return {"scores": self.classifier(self.text(sample_list))}
