"""Online region features for ImgTune: a torchvision CNN + RoIAlign over the given boxes.

For data without precomputed features (joint training): the image (B, 3, H, W) goes through a
CNN backbone (MobileNetV2 or ResNet-18, ImageNet weights from a local file), and each box of
``image_info_0.bbox`` (original pixels) is pooled with ``torchvision.ops.roi_align`` (Mask
R-CNN's RoIAlign, He et al. 2017, arXiv 1703.06870) and averaged over its grid: the "pooled"
feature of ``mmf_imgtune.regions`` computed inside the model, so the backbone trains together
with the fusion layers. Padded boxes (index >= ``num_boxes``) are never pooled; their rows are 0.

Enabled by ``model_config.imgtune.image_encoder.type: roi_backbone`` (``type: null``, the
default, means precomputed ``image_feature_0``). The region encoder's ``feature_dim`` must equal
this encoder's ``feature_dim`` (1280 for MobileNetV2, 512 for ResNet-18, fewer when truncated).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.ops import roi_align

from mmf_imgtune.registry import registry

# Defaults of model_config.imgtune.image_encoder (one place; the config overrides them).
BACKBONES = ("mobilenet_v2", "resnet18")
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _load_weights(module: nn.Module, backbone: str, weights: str) -> None:
    if weights == "random":
        return
    if weights == "imagenet":
        if backbone != "mobilenet_v2":
            raise ValueError(
                f"image_encoder.weights=imagenet ships offline only for mobilenet_v2; for "
                f"{backbone} give a local .pth path (torchvision's state dict) or 'random'"
            )
        # Lazily: regions loads torchvision's detection models; only joint training needs them
        from mmf_imgtune.regions.detector import offline_mobilenet_v2_weights

        weights = offline_mobilenet_v2_weights()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    missing, _ = module.load_state_dict(state, strict=False)
    if missing:
        raise KeyError(
            f"image_encoder.weights '{weights}' lacks {len(missing)} {backbone} parameters "
            f"(e.g. {missing[:3]}); give torchvision's {backbone} state dict"
        )


def build_backbone(backbone: str, weights: str, num_blocks: int | None) -> nn.Module:
    """A CNN trunk (B, 3, H, W) -> (B, C, H/s, W/s) from torchvision, weights loaded."""
    # lazy: torchvision's models load only for joint training
    from torchvision import models

    if backbone == "mobilenet_v2":
        net = models.mobilenet_v2(weights=None)
        _load_weights(net, backbone, weights)
        blocks = list(net.features)
    elif backbone == "resnet18":
        net = models.resnet18(weights=None)
        _load_weights(net, backbone, weights)
        stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        blocks = [stem, net.layer1, net.layer2, net.layer3, net.layer4]
    else:
        raise ValueError(f"image_encoder.backbone is '{backbone}'; use one of {BACKBONES}")
    if num_blocks is not None:
        if not 1 <= int(num_blocks) <= len(blocks):
            raise ValueError(
                f"image_encoder.num_blocks={num_blocks}; {backbone} has {len(blocks)} blocks"
            )
        blocks = blocks[: int(num_blocks)]
    return nn.Sequential(*blocks)


@registry.register_encoder("roi_backbone")
class RoIBackboneEncoder(nn.Module):
    """Image + boxes -> (B, N, D) region features, differentiable into the backbone.

    Args:
        backbone: ``mobilenet_v2`` or ``resnet18``.
        weights: ``imagenet``, a local .pth state dict, or ``random``.
        num_blocks: keep the first N backbone blocks (finer stride for small images).
        output_size: RoIAlign grid side.
        normalize: apply ImageNet mean/std to [0, 1] pixels.
        trainable: let gradients update the backbone.
        freeze_batchnorm: BatchNorm layers stay in eval mode.
    """

    def __init__(
        self,
        backbone: str = "mobilenet_v2",
        weights: str = "imagenet",
        num_blocks: int | None = None,
        output_size: int = 7,
        normalize: bool = True,
        trainable: bool = True,
        freeze_batchnorm: bool = True,
    ):
        super().__init__()
        self.backbone = build_backbone(backbone, weights, num_blocks)
        self.output_size = int(output_size)
        self.normalize = normalize
        self.freeze_batchnorm = freeze_batchnorm
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():  # one dry run gives the channel count and the stride
            probe = self.backbone.eval()(torch.zeros(1, 3, 224, 224))
        self.feature_dim = int(probe.size(1))
        self.stride = 224 / probe.size(-1)
        self.backbone.requires_grad_(trainable)
        self.train()

    @classmethod
    def from_config(cls, config: Any) -> RoIBackboneEncoder:
        """Build from ``model_config.imgtune.image_encoder`` (defaults in the imgtune yaml)."""
        return cls(
            backbone=str(config.backbone),
            weights=str(config.weights),
            num_blocks=config.num_blocks,
            output_size=int(config.output_size),
            normalize=bool(config.normalize),
            trainable=bool(config.trainable),
            freeze_batchnorm=bool(config.freeze_batchnorm),
        )

    def train(self, mode: bool = True) -> RoIBackboneEncoder:
        super().train(mode)
        if self.freeze_batchnorm:
            for module in self.backbone.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def pool(
        self,
        image: torch.Tensor,
        bbox: torch.Tensor,
        num_boxes: torch.Tensor,
        scale: torch.Tensor,
    ) -> torch.Tensor:
        """Args:
            image: (B, 3, H, W) float pixels in [0, 1] (or normalised when normalize=false).
            bbox: (B, N, 4) x1, y1, x2, y2 in original-image pixels (padded rows arbitrary).
            num_boxes: (B,) true box counts.
            scale: (B, 2) (x, y) factors from original pixels to ``image`` pixels.

        Returns:
            (B, N, D) float features; rows of padded boxes are 0.
        """
        batch, slots = bbox.shape[:2]
        if self.normalize:
            image = (image - self.mean.to(image.dtype)) / self.std.to(image.dtype)
        fmap = self.backbone(image)  # (B, D, H/s, W/s)
        keep = torch.arange(slots, device=bbox.device).unsqueeze(0) < num_boxes.view(-1, 1)
        rows, cols = keep.nonzero(as_tuple=True)  # real boxes only; padding never pooled
        boxes = bbox[rows, cols].to(fmap.dtype) * scale[rows].repeat(1, 2).to(fmap.dtype)
        rois = torch.cat([rows.unsqueeze(1).to(fmap.dtype), boxes], dim=1)  # (K, 5)
        pooled = roi_align(
            fmap,
            rois,
            self.output_size,
            spatial_scale=1.0 / self.stride,
            sampling_ratio=2,
            aligned=True,
        )  # (K, D, s, s)
        out = fmap.new_zeros(batch, slots, fmap.size(1))
        out[rows, cols] = pooled.mean(dim=(2, 3))
        return out

    def forward(self, sample_list: Any) -> torch.Tensor:
        """``sample_list.image`` (B, 3, H, W) + ``image_info_0`` (``bbox``, ``num_boxes``,
        optional ``image_width``/``image_height``) -> (B, N, D) region features."""
        if "image" not in sample_list:
            raise KeyError(
                "image_encoder.type=roi_backbone needs sample_list.image (B, 3, H, W); set "
                "dataset_config.<dataset>.use_images=true (with an image processor)"
            )
        image = sample_list["image"]
        info = sample_list.get("image_info_0") or {}
        if info.get("bbox") is None:
            raise KeyError(
                "image_encoder.type=roi_backbone needs image_info_0.bbox (B, N, 4) "
                "boxes in original pixels; give boxes in the annotations"
            )
        bbox = info["bbox"]
        num_boxes = info.get("num_boxes")
        if num_boxes is None:
            num_boxes = torch.full((bbox.size(0),), bbox.size(1), device=bbox.device)
        scale = torch.ones(bbox.size(0), 2, device=bbox.device)
        if info.get("image_width") is not None and info.get("image_height") is not None:
            # Boxes are in original pixels; the tensor may have been resized by the processor.
            size = torch.stack(
                [torch.as_tensor(info["image_width"]), torch.as_tensor(info["image_height"])],
                dim=-1,
            )
            size = size.to(bbox.device, torch.float32).view(-1, 2)
            scale = torch.tensor([image.size(-1), image.size(-2)], device=bbox.device) / size
        return self.pool(image, bbox, num_boxes.to(bbox.device).long(), scale)


def build_online_encoder(model_config: Any, feature_dim: int) -> nn.Module | None:
    """The online encoder of ``model_config.image_encoder``, or None for precomputed features.

    Args:
        model_config: ``model_config.imgtune``.
        feature_dim: ``region_encoder.feature_dim`` the encoder's output must match.
    """
    config = model_config.get("image_encoder") if hasattr(model_config, "get") else None
    if config is None or config.get("type") is None:
        return None
    encoder = registry.get_encoder_class(str(config.type)).from_config(config)
    if encoder.feature_dim != feature_dim:
        raise ValueError(
            f"image_encoder ({config.backbone}, num_blocks={config.num_blocks}) gives "
            f"{encoder.feature_dim}-d features but model_config.imgtune.region_encoder."
            f"feature_dim is {feature_dim}; set feature_dim: {encoder.feature_dim}"
        )
    return encoder
