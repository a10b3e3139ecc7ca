"""``mmbt``: the MultiModal BiTransformer (Kiela et al. 2019, arXiv 1909.02950), as MMF's
"MMBT-Grid" and "MMBT-Region" Hateful Memes baselines.

Image tokens (region features with their boxes, or ResNet grid cells) are projected into
BERT's word-embedding space and inserted after [CLS]:

    [CLS] img_1 .. img_N [END] text tokens [SEP]   ([END] is a learned embedding)

Image tokens carry segment id ``image_segment_id`` and BERT adds its own position
embeddings; padded regions are masked out of attention. The pooled [CLS] is classified.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import (
    TextEncoder,
    build_image_encoder,
    check_positions,
    mlp_head,
)
from mmf_imgtune.registry import registry


@registry.register_model("mmbt")
class MMBT(BaseModel):
    """Returns ``scores`` (B, num_labels) from BERT over image tokens + text tokens."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/mmbt/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        self.text = TextEncoder(cfg)
        self.image = build_image_encoder(cfg)
        hidden = self.text.out_dim
        # Project each image token into the word-embedding space (MMBT's W_n).
        self.image_proj = nn.Linear(self.image.out_dim, hidden)
        # MMBT's modal end token: a learned embedding, so no tokenizer id is needed here.
        self.image_end = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.image_segment_id = int(cfg.image_segment_id)
        if self.image_segment_id >= self.text.bert.config.type_vocab_size:
            raise ValueError(
                f"mmbt.image_segment_id={self.image_segment_id} but BERT has only "
                f"type_vocab_size={self.text.bert.config.type_vocab_size} segments; use 0 or 1"
            )
        self.classifier = mlp_head(
            hidden, int(cfg.classifier_hidden), int(cfg.num_labels), float(cfg.dropout)
        )

    def _sequence(self, sample_list: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Embeddings (B, 1 + N + 1 + T-1, H), attention mask and segment ids of that length."""
        bert = self.text.bert
        words = bert.get_input_embeddings()(sample_list["input_ids"])  # (B, T, H)
        tokens, image_mask = self.image(sample_list)  # (B, N, D), (B, N)
        images = self.image_proj(tokens)  # (B, N, H)
        batch = words.size(0)
        # The text already starts with [CLS]; a learned end token closes the image span.
        sep = self.image_end.expand(batch, 1, -1).to(words.dtype)
        embeds = torch.cat([words[:, :1], images, sep, words[:, 1:]], dim=1)
        text_mask = sample_list["input_mask"]
        ones = text_mask.new_ones(batch, 1)
        mask = torch.cat([ones, image_mask.to(text_mask.dtype), ones, text_mask[:, 1:]], dim=1)
        text_segments = sample_list["segment_ids"]
        image_segments = torch.full_like(image_mask, self.image_segment_id).to(text_segments)
        segments = torch.cat(
            [text_segments[:, :1], image_segments, image_segments[:, :1], text_segments[:, 1:]],
            dim=1,
        )
        return embeds, mask, segments

    def forward(self, sample_list: Any) -> dict:
        embeds, mask, segments = self._sequence(sample_list)
        check_positions(self.text.bert, embeds.size(1), "the text with the image tokens")
        output = self.text.bert(inputs_embeds=embeds, attention_mask=mask, token_type_ids=segments)
        return {"scores": self.classifier(output.pooler_output)}
