"""``visual_bert``: VisualBERT (Li et al. 2019, arXiv 1908.03557), MMF's "Visual BERT".

Built on transformers' ``VisualBertModel``: text tokens and region features (each with its
5-d box appended, as MMF's region variant feeds position information) share one
transformer; the pooled [CLS] is classified. ``bert.config`` builds a random one offline;
otherwise ``bert_model_name`` (e.g. ``uclanlp/visualbert-vqa-coco-pre``) is loaded.
"""

from __future__ import annotations

from typing import Any

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import (
    build_bert,
    build_image_encoder,
    check_positions,
    mlp_head,
)
from mmf_imgtune.registry import registry


@registry.register_model("visual_bert")
class VisualBert(BaseModel):
    """Returns ``scores`` (B, num_labels) from VisualBERT's pooled output."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/visual_bert/defaults.yaml"

    def build(self) -> None:
        from transformers import VisualBertModel  # lazy: keeps `import mmf_imgtune` fast

        cfg = self.config
        self.image = build_image_encoder(cfg)
        self.bert = build_bert(cfg, VisualBertModel, visual_embedding_dim=self.image.out_dim)
        self.classifier = mlp_head(
            int(self.bert.config.hidden_size),
            int(cfg.classifier_hidden),
            int(cfg.num_labels),
            float(cfg.dropout),
        )

    def forward(self, sample_list: Any) -> dict:
        visual, visual_mask = self.image(sample_list)  # (B, N, D[+5]), (B, N)
        check_positions(self.bert, sample_list["input_ids"].size(1))
        output = self.bert(
            input_ids=sample_list["input_ids"],
            attention_mask=sample_list["input_mask"],
            token_type_ids=sample_list["segment_ids"],
            visual_embeds=visual,
            visual_attention_mask=visual_mask,
            # VisualBERT's convention: visual tokens are segment 1.
            visual_token_type_ids=visual_mask.new_ones(visual_mask.shape),
        )
        return {"scores": self.classifier(output.pooler_output)}
