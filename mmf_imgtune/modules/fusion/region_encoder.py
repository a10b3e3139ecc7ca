"""Region encoder: region features + box geometry (+ object classes) -> LLM visual tokens.

The LLaVA recipe (Liu et al. 2023, arXiv 2304.08485) applied to Detectron2-style region
features as in VisualBERT/ViLBERT: each box's pooled feature is concatenated with its 5-number
geometry (x1/W, y1/H, x2/W, y2/H, area), optionally summed with an object-class embedding,
projected to the LLM width, and optionally compressed to K tokens by a Perceiver resampler.
Padded boxes (index >= ``num_boxes``) are zeroed and masked, so their content changes nothing.

The features may come from a file (``image_feature_0``) or from an image encoder run online;
the encoder only sees tensors, so either source plugs in.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmf_imgtune.modules.fusion.projector import build_projector
from mmf_imgtune.modules.fusion.resampler import PerceiverResampler


def region_mask(num_boxes: torch.Tensor, max_boxes: int) -> torch.Tensor:
    """(B,) true box counts -> (B, max_boxes) bool, True for real boxes."""
    positions = torch.arange(max_boxes, device=num_boxes.device)
    return positions.unsqueeze(0) < num_boxes.view(-1, 1).long()


class RegionEncoder(nn.Module):
    """Args:
    feature_dim: D, the region feature width.
    hidden_size: the LLM hidden size (output width).
    projector: ``linear`` or ``mlp``.
    projector_hidden_dim: MLP inner width (``None``: hidden_size).
    use_box_geometry: concatenate the 5 box numbers before projecting.
    num_object_classes: > 0 adds a learned embedding of ``objects`` ids.
    feature_norm: LayerNorm the raw features first (detector features have large scales).
    resampler: ``None`` or a dict of ``num_latents``, ``depth``, ``num_heads``.
    """

    def __init__(
        self,
        feature_dim: int,
        hidden_size: int,
        projector: str = "mlp",
        projector_hidden_dim: int | None = None,
        use_box_geometry: bool = True,
        num_object_classes: int = 0,
        feature_norm: bool = True,
        resampler: dict | None = None,
        config_key: str = "region_encoder",
    ):
        super().__init__()
        self.feature_dim = feature_dim
        self.config_key = config_key  # named in the errors about bad input
        self.use_box_geometry = use_box_geometry
        self.feature_norm = nn.LayerNorm(feature_dim) if feature_norm else nn.Identity()
        in_dim = feature_dim + (5 if use_box_geometry else 0)
        self.projector = build_projector(projector, in_dim, hidden_size, projector_hidden_dim)
        self.object_embedding = (
            nn.Embedding(num_object_classes, hidden_size) if num_object_classes > 0 else None
        )
        self.resampler = PerceiverResampler(hidden_size, **resampler) if resampler else None

    @classmethod
    def from_config(
        cls, config: Any, hidden_size: int, config_key: str = "region_encoder"
    ) -> RegionEncoder:
        """Build from ``model_config.imgtune.region_encoder`` and the LLM width."""
        resampler = config.resampler
        return cls(
            config_key=config_key,
            feature_dim=int(config.feature_dim),
            hidden_size=hidden_size,
            projector=str(config.projector),
            projector_hidden_dim=config.projector_hidden_dim,
            use_box_geometry=bool(config.use_box_geometry),
            num_object_classes=int(config.num_object_classes),
            feature_norm=bool(config.feature_norm),
            resampler=(
                {
                    "num_latents": int(resampler.num_latents),
                    "depth": int(resampler.depth),
                    "num_heads": int(resampler.num_heads),
                }
                if resampler.enabled
                else None
            ),
        )

    def forward(
        self,
        features: torch.Tensor,
        num_boxes: torch.Tensor,
        boxes_5d: torch.Tensor | None = None,
        objects: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Args:
            features: (B, N, D) float region features (padded rows are arbitrary).
            num_boxes: (B,) long, true box count per image.
            boxes_5d: (B, N, 5) float box geometry; required when use_box_geometry.
            objects: (B, N) long class ids; used when num_object_classes > 0.

        Returns:
            ``tokens`` (B, K, H) visual tokens (K = N, or num_latents with the resampler),
            ``mask`` (B, K) bool, ``region_mask`` (B, N) bool, and with the resampler
            ``region_attention`` (B, K, N) head-averaged weights of latents over regions.
        """
        if features.size(-1) != self.feature_dim:
            raise ValueError(
                f"image_feature_0 has width {features.size(-1)} but {self.config_key}.feature_dim "
                f"is {self.feature_dim}; set it to the width of the feature files (e.g. 2048 for "
                "Detectron2 R101 FPN, 1280 for MobileNetV2 pooled)"
            )
        mask = region_mask(num_boxes, features.size(1))  # (B, N)
        keep = mask.unsqueeze(-1).to(features.dtype)
        # Zero padded rows before any layer so their content cannot leak (e.g. via LayerNorm).
        inputs = self.feature_norm(features * keep)
        if self.use_box_geometry:
            if boxes_5d is None:
                raise KeyError(
                    "region_encoder.use_box_geometry is true but the batch has no "
                    "image_info_0.boxes_5d; add it in the dataset or set use_box_geometry=false"
                )
            inputs = torch.cat([inputs, boxes_5d.to(inputs.dtype) * keep], dim=-1)
        tokens = self.projector(inputs)  # (B, N, H)
        if self.object_embedding is not None and objects is not None:
            ids = objects.long() * mask.long()  # padded boxes: id 0, masked out below
            classes = self.object_embedding.num_embeddings
            if ids.numel() and (ids.min() < 0 or ids.max() >= classes):
                raise ValueError(
                    f"image_info_0.objects holds class id {int(ids.max())} (min "
                    f"{int(ids.min())}), outside 0..{classes - 1} of "
                    f"{self.config_key}.num_object_classes={classes}; set it to the largest class "
                    "id + 1 (ids from 1 with 0 for none need class count + 1), or 0 to ignore them"
                )
            tokens = tokens + self.object_embedding(ids)
        tokens = tokens * keep
        out = {"tokens": tokens, "mask": mask, "region_mask": mask}
        if self.resampler is not None:
            latents, attention = self.resampler(tokens, mask)
            out["tokens"] = latents
            out["mask"] = torch.ones(latents.shape[:2], dtype=torch.bool, device=latents.device)
            out["region_attention"] = attention
        return out
