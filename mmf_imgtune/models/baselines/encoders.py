"""Encoders shared by the MMF baselines: BERT text encoder, region and grid image encoders.

Follows MMF's baselines for Hateful Memes (Kiela et al. 2020, arXiv 2005.04790): a BERT
text encoder, "Image-Region" features (Faster R-CNN boxes, mean-pooled over the true boxes)
and "Image-Grid" features (a torchvision ResNet over the raw image, average-pooled).

Nothing here downloads: BERT comes from an inline ``bert.config`` (a ``BertConfig`` dict, what
tests and the shapes configs use) or, when that is null, ``from_pretrained(bert_model_name)``
(a local folder, or the Hugging Face cache); ResNet weights come from a local file or stay
random.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn


def _plain(node: Any) -> dict:
    return (
        OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    )


def build_bert(config: DictConfig, model_class: Any = None, **extra: Any) -> nn.Module:
    """A BERT-family model from ``config.bert.config`` (inline) or ``config.bert_model_name``.

    Args:
        config: a baseline's ``model_config.<name>`` node.
        model_class: the transformers class (default ``BertModel``).
        extra: config fields forced on top (e.g. ``visual_embedding_dim``).
    """
    # lazy: transformers' BERT loads with a baseline, not with `import mmf_imgtune`
    from transformers import BertConfig, BertModel

    model_class = model_class or BertModel
    config_class = model_class.config_class if model_class is not BertModel else BertConfig
    inline = config.bert.config
    if inline:
        return model_class(config_class(**{**_plain(inline), **extra}))
    name = config.bert_model_name
    if not name:
        raise KeyError(
            "set model_config.<model>.bert.config (a BertConfig dict) or bert_model_name "
            "(a Hugging Face name or local folder); both are empty"
        )
    return model_class.from_pretrained(str(name), **extra)


def check_positions(bert: nn.Module, length: int, what: str = "the text") -> None:
    """Fail clearly when a sequence is longer than BERT's position table (instead of a tensor
    size mismatch deep inside the embeddings)."""
    limit = int(bert.config.max_position_embeddings)
    if length > limit:
        raise ValueError(
            f"{what} is {length} tokens but the BERT encoder has max_position_embeddings="
            f"{limit}; lower dataset_config.<dataset>.processors.text_processor.params."
            "max_seq_length (or max_features), or use a BERT with more positions"
        )


class TextEncoder(nn.Module):
    """BERT over ``input_ids``/``input_mask``/``segment_ids``; returns the pooled [CLS].

    Args:
        config: the baseline's config node (``bert``, ``bert_model_name``).
    """

    def __init__(self, config: DictConfig):
        super().__init__()
        self.bert = build_bert(config)
        self.out_dim = int(self.bert.config.hidden_size)

    def forward(self, sample_list: Any) -> torch.Tensor:
        """Returns: (B, H) pooled text."""
        check_positions(self.bert, sample_list["input_ids"].size(1))
        output = self.bert(
            input_ids=sample_list["input_ids"],
            attention_mask=sample_list["input_mask"],
            token_type_ids=sample_list["segment_ids"],
        )
        return output.pooler_output


def sample_region_mask(sample_list: Any, num_regions: int) -> torch.Tensor:
    """(B, N) long mask of real regions from ``image_info_0.num_boxes`` (all ones if absent).

    Datasets without ``image_info_0`` (e.g. ``toy``) pad nothing, so every region counts.
    """
    features = sample_list["image_feature_0"]
    info = sample_list.get("image_info_0")
    if info is None or "num_boxes" not in info:
        return torch.ones(features.shape[:2], dtype=torch.long, device=features.device)
    counts = torch.as_tensor(info["num_boxes"], device=features.device).view(-1, 1)
    positions = torch.arange(num_regions, device=features.device).view(1, -1)
    return (positions < counts).long()


def region_boxes(sample_list: Any) -> torch.Tensor:
    """(B, N, 5) box geometry ``image_info_0.boxes_5d``; raises when the dataset has none."""
    info = sample_list.get("image_info_0")
    if info is None or "boxes_5d" not in info:
        raise KeyError(
            "use_boxes is true but the batch has no image_info_0.boxes_5d; use a dataset with "
            "region boxes or set model_config.<model>.image_encoder.use_boxes=false"
        )
    return info["boxes_5d"].to(torch.get_default_dtype())


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens. tokens: (B, N, D); mask: (B, N). Returns (B, D)."""
    weights = mask.unsqueeze(-1).to(tokens.dtype)  # (B, N, 1)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class RegionFeatureEncoder(nn.Module):
    """Region features ``image_feature_0`` (B, N, D), optionally with their 5-d boxes appended.

    Args:
        feature_dim: D, the region feature width.
        use_boxes: append ``image_info_0.boxes_5d`` to each region (D + 5 outputs).
    """

    def __init__(self, feature_dim: int, use_boxes: bool):
        super().__init__()
        self.use_boxes = use_boxes
        self.out_dim = feature_dim + (5 if use_boxes else 0)
        self.feature_dim = feature_dim

    def forward(self, sample_list: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns: tokens (B, N, out_dim) float and mask (B, N) long."""
        # The run's float type: Lightning makes it bf16 inside forward under bf16-true and
        # float64 under 64-true (this module has no weights to take it from).
        features = sample_list["image_feature_0"].to(torch.get_default_dtype())
        if features.size(-1) != self.feature_dim:
            raise ValueError(
                f"image_feature_0 has width {features.size(-1)} but "
                f"image_encoder.feature_dim is {self.feature_dim}; set them equal"
            )
        mask = sample_region_mask(sample_list, features.size(1))
        if self.use_boxes:
            features = torch.cat([features, region_boxes(sample_list)], dim=-1)
        # Padded regions are zero in the file, but zero them again so boxes never leak in.
        return features * mask.unsqueeze(-1).to(features.dtype), mask


class GridEncoder(nn.Module):
    """torchvision ResNet trunk over ``image`` (B, 3, H, W), pooled to a ``grid_size`` grid.

    Args:
        resnet: torchvision constructor name, e.g. ``resnet152`` (MMF's) or ``resnet18``.
        weights: a local ``state_dict`` file, or None for random weights (never downloaded).
        grid_size: output grid side; tokens = grid_size ** 2 (1 = global average pool).
    """

    def __init__(self, resnet: str, weights: str | None, grid_size: int):
        super().__init__()
        # lazy: torchvision's models load only for image_encoder.type=grid
        import torchvision

        if not hasattr(torchvision.models, resnet):
            raise KeyError(f"image_encoder.resnet '{resnet}' is not a torchvision model name")
        network = getattr(torchvision.models, resnet)(weights=None)
        if weights:
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"image_encoder.weights '{weights}' does not exist")
            network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.out_dim = int(network.fc.in_features)
        # Everything but the classifier: conv trunk up to the last stage.
        self.trunk = nn.Sequential(*list(network.children())[:-2])
        self.pool = nn.AdaptiveAvgPool2d(grid_size)

    def forward(self, sample_list: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns: tokens (B, G*G, C) and an all-ones mask (B, G*G)."""
        if "image" not in sample_list:
            raise KeyError(
                "image_encoder.type=grid needs sample_list.image (B, 3, H, W); enable "
                "use_images in the dataset or use image_encoder.type=region"
            )
        dtype = next(self.trunk.parameters()).dtype  # bf16 under bf16-true
        grid = self.pool(self.trunk(sample_list["image"].to(dtype)))  # (B, C, G, G)
        tokens = grid.flatten(2).transpose(1, 2)  # (B, G*G, C)
        mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        return tokens, mask


def build_image_encoder(config: DictConfig) -> nn.Module:
    """``config.image_encoder.type``: ``region`` or ``grid`` (MMF's two image variants)."""
    spec = config.image_encoder
    if spec.type == "region":
        return RegionFeatureEncoder(int(spec.feature_dim), bool(spec.use_boxes))
    if spec.type == "grid":
        return GridEncoder(str(spec.resnet), spec.weights, int(spec.grid_size))
    raise ValueError(f"image_encoder.type must be 'region' or 'grid', got '{spec.type}'")


def mlp_head(in_dim: int, hidden: int, num_labels: int, dropout: float) -> nn.Sequential:
    """MMF's classifier: Linear -> ReLU -> Dropout -> Linear. Returns logits (B, num_labels)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_labels),
    )
