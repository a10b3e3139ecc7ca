"""Image processors: MMF's ``torchvision_transforms`` (a PIL image -> a (3, H, W) tensor).

The config lists torchvision transform names, each a string or ``{type, params}``, exactly as
MMF writes them (``ToTensor``, ``{type: Resize, params: {size: [256, 256]}}``, ...), plus MMF's
``GrayScaleTo3Channels`` for the grey and RGBA images that real meme/COCO folders contain.
"""

from __future__ import annotations

import enum
from typing import Any

import torch
from omegaconf import OmegaConf
from torchvision import transforms as T

from mmf_imgtune.data.processors.base import BaseProcessor
from mmf_imgtune.registry import registry


@registry.register_transform("GrayScaleTo3Channels")
class GrayScaleTo3Channels:
    """(1, H, W) -> (3, H, W) by repetition; (4, H, W) RGBA -> its RGB; others unchanged."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() == 3 and image.size(0) == 1:
            return image.expand(3, -1, -1).contiguous()
        if image.dim() == 3 and image.size(0) == 4:
            return image[:3]
        return image


def _register_torchvision_transforms() -> None:
    """Every torchvision.transforms class under its own name (``Resize``, ``ToTensor``...)."""
    for name in dir(T):
        cls = getattr(T, name)
        if isinstance(cls, type) and not issubclass(cls, enum.Enum) and name[0].isupper():
            registry.kinds["transform"].register(name, cls)


_register_torchvision_transforms()


def _build_transform(spec: Any) -> Any:
    if not isinstance(spec, str):  # yaml gives lists; torchvision wants tuples for sizes
        params = spec.get("params") or {}
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        spec = {**spec, "params": params}
    return registry.build("transform", spec)


@registry.register_processor("torchvision_transforms")
class TorchvisionTransforms(BaseProcessor):
    """``{"image": PIL.Image}`` (or the image itself) -> ``{"image": (3, H, W) float}``.

    Params: ``transforms``: list of names or ``{type, params}``, applied in order.
    """

    def __init__(self, config: Any = None, *args: Any, **kwargs: Any):
        super().__init__(config)
        if "transforms" not in self.config:
            raise KeyError(
                "torchvision_transforms params need 'transforms', e.g. [ToTensor, "
                "GrayScaleTo3Channels, {type: Resize, params: {size: [224, 224]}}]"
            )

        specs = OmegaConf.to_container(self.config.transforms, resolve=True)
        self.transform = T.Compose([_build_transform(spec) for spec in specs])

    def __call__(self, item: Any, *args: Any, **kwargs: Any) -> dict:
        image = item["image"] if isinstance(item, dict) else item
        return {"image": self.transform(image)}
