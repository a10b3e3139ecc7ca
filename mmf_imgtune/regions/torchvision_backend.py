"""Region features from a torchvision Faster R-CNN (always available).

Runs the detector's own stages: transform (normalise, resize), backbone, region proposals
(or the given boxes), box RoIAlign, box head, box predictor. Two feature layers:
- ``box_head``: the box head output, D = 1024 (the FPN head's / the light model's fc7), the
  analogue of the 2048-d fc7/res5 features of the VG detector MMF ships;
- ``pooled``: the RoIAligned backbone map averaged over the 7x7 box grid, D = backbone
  channels (1280 for ``mobilenet_v2``, 256 for the FPN models). With only ImageNet backbone
  weights (no detector checkpoint) this is a meaningful choice;
- ``mid`` (``mobilenet_v2`` only, the default without a detector checkpoint): a hypercolumn
  (Hariharan et al. 2015) of the stride-8 (32 channels) and stride-16 (96 channels) blocks,
  each RoIAligned and averaged, D = 128. On small images (e.g. 128 px) the stride-32 map is
  4x4, too coarse for small objects; these middle blocks keep colour, shape and size linearly
  decodable (measured: see docs/regions.md) and, for given boxes, skip the network's tail.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.ops import roi_align

from mmf_imgtune.regions.base import RegionBackend, RegionResult
from mmf_imgtune.regions.detector import BOX_HEAD_DIM, load_detector, offline_mobilenet_v2_weights
from mmf_imgtune.regions.options import RegionOptions
from mmf_imgtune.regions.recipe import weights_identity
from mmf_imgtune.regions.selection import select_regions
from mmf_imgtune.registry import registry
from mmf_imgtune.utils.hardware import native_bf16

LAYERS = ("box_head", "pooled", "mid")
# mobilenet_v2 blocks tapped by the "mid" layer: (block index, channels, stride).
MID_BLOCKS = ((6, 32, 8), (13, 96, 16))


@registry.register_region_backend("torchvision")
class TorchvisionBackend(RegionBackend):
    """See the module docstring; arguments are ``extract_features``'s."""

    name = "torchvision"

    @classmethod
    def from_options(cls, config_file: str | None = None, **options) -> TorchvisionBackend:
        """``extract_features``'s options; ``config_file`` is detectron2's and not used."""
        return cls(**options)

    def __init__(
        self,
        *,
        weights: str | None,
        backbone: str,
        min_size: int | None,
        max_size: int | None,
        device: str,
        regions: RegionOptions,
        precision: str = "32",
    ):
        self.model, self.class_names, self.trained = load_detector(
            weights, backbone, min_size, max_size
        )
        backbone = getattr(self.model, "backbone_name", backbone)  # a checkpoint's own
        self.backbone, self.weights = backbone, weights
        # Detection needs trained heads, or an untrained detector asked for by name.
        self.detects = self.trained or weights == "random"
        untrained_layer = "mid" if backbone == "mobilenet_v2" else "pooled"
        self.layer = regions.layer or ("box_head" if self.trained else untrained_layer)
        if self.layer not in LAYERS:
            raise ValueError(f"unknown feature layer {self.layer!r}; choose one of {LAYERS}")
        if self.layer == "mid" and backbone != "mobilenet_v2":
            raise ValueError(f"layer 'mid' needs backbone mobilenet_v2, got {backbone!r}")
        if self.layer == "box_head" and not self.trained and weights != "random":
            raise ValueError(
                "layer 'box_head' needs a trained detector (--weights DETECTOR.pt): without "
                "one its box head is random. Use layer 'mid' or 'pooled' (ImageNet backbone "
                "features), or --weights random for tests"
            )
        self.device = torch.device(device)
        self.model.to(self.device)
        self.dtype = backbone_dtype(str(precision), self.device)
        # The backbone is nearly all of the FLOPs: its batch norms folded into the convolutions
        # (inference only), NHWC for oneDNN/cuDNN kernels, and in bf16 where asked; RoIAlign,
        # heads and the stored features stay float32.
        fuse_conv_bn(self.model.backbone)
        self.model.backbone.to(self.dtype, memory_format=torch.channels_last)
        self.selection = regions.selection()
        channels = self.model.backbone.out_channels
        dims = {"box_head": BOX_HEAD_DIM, "pooled": channels}
        dims["mid"] = sum(c for _, c, _ in MID_BLOCKS)
        self.feature_dim = dims[self.layer]

    def recipe(self) -> dict:
        imagenet = offline_mobilenet_v2_weights() if self.weights is None else None
        transform = self.model.transform
        return {
            "backend": self.name,
            "backbone": self.backbone,
            "layer": self.layer,
            "feature_dim": int(self.feature_dim),
            "weights": weights_identity(self.weights, imagenet),
            "config_file": None,
            "input_size": {
                "min_size": int(transform.min_size[0]),
                "max_size": int(transform.max_size),
            },
            "dtype": str(self.dtype).replace("torch.", ""),
        }

    def _backbone(self, tensors: torch.Tensor, full: bool) -> tuple[OrderedDict, list]:
        """Backbone maps, plus the ``mid`` blocks' maps; ``full=False`` stops after them.
        The maps are float32 whatever the backbone computes in."""
        tensors = tensors.to(self.dtype).contiguous(memory_format=torch.channels_last)
        if self.layer != "mid":
            features = self.model.backbone(tensors)
            if isinstance(features, torch.Tensor):
                features = OrderedDict([("0", features)])
            return OrderedDict((k, v.float()) for k, v in features.items()), []
        taps, last = {b for b, _, _ in MID_BLOCKS}, MID_BLOCKS[-1][0]
        mids, x = [], tensors
        for index, block in enumerate(self.model.backbone):
            x = block(x)
            if index in taps:
                mids.append(x.float())
            if index == last and not full:
                return OrderedDict(), mids
        return OrderedDict([("0", x.float())]), mids

    @staticmethod
    def _mid_features(mids: list, proposals: list) -> torch.Tensor:
        """(K, 128) hypercolumn: each tapped map RoIAligned (7x7) and averaged."""
        parts = [
            roi_align(x, proposals, 7, spatial_scale=1 / stride, sampling_ratio=2).mean(dim=(2, 3))
            for x, (_, _, stride) in zip(mids, MID_BLOCKS)
        ]
        return torch.cat(parts, dim=1)

    @torch.inference_mode()
    def extract(
        self, images: list[torch.Tensor], boxes: list[np.ndarray | None]
    ) -> list[RegionResult]:
        heads = self.model.roi_heads
        originals = [tuple(image.shape[-2:]) for image in images]
        batch = [image.to(self.device, torch.float32).div_(255) for image in images]
        image_list, _ = self.model.transform(batch)
        given = all(b is not None for b in boxes)
        if not given and any(b is not None for b in boxes):
            raise ValueError("a batch must either give boxes for every image or for none")
        if not given and not self.detects:
            raise ValueError(
                "no detector to propose boxes (no trained --weights): give boxes or a grid"
            )
        # Heads run only where they mean something: detection, or classes of trained heads.
        heads_needed = not given or self.trained or self.layer == "box_head"
        # Given boxes (or grid cells) without heads, 'mid' layer: the tapped blocks suffice.
        features, mids = self._backbone(image_list.tensors, heads_needed or self.layer != "mid")
        if given:
            proposals = [
                _scale(torch.as_tensor(b, dtype=torch.float32), original, resized, self.device)
                for b, original, resized in zip(boxes, originals, image_list.image_sizes)
            ]
        else:
            proposals, _ = self.model.rpn(image_list, features)
        scores = torch.zeros(sum(len(p) for p in proposals), 2, device=self.device)
        if heads_needed:
            pooled = heads.box_roi_pool(features, proposals, image_list.image_sizes)  # (K,C,7,7)
            head = heads.box_head(pooled)  # (K, 1024)
            logits, regression = heads.box_predictor(head)
            scores = torch.softmax(logits, -1)
            class_boxes = heads.box_coder.decode(regression, proposals)  # (K, C, 4)
            region_features = head if self.layer == "box_head" else pooled.mean(dim=(2, 3))
        elif self.layer == "pooled":
            pooled = heads.box_roi_pool(features, proposals, image_list.image_sizes)  # (K,C,7,7)
            region_features = pooled.mean(dim=(2, 3))
        if self.layer == "mid":
            region_features = self._mid_features(mids, proposals)
        results, start = [], 0
        for index, props in enumerate(proposals):
            stop = start + len(props)
            keep = torch.arange(len(props), device=self.device)
            if not given:
                keep = select_regions(class_boxes[start:stop], scores[start:stop], **self.selection)
            results.append(
                self._result(
                    props[keep],
                    region_features[start:stop][keep],
                    scores[start:stop][keep],
                    image_list.image_sizes[index],
                    originals[index],
                )
            )
            start = stop
        return results

    def _result(self, boxes, features, scores, resized, original) -> RegionResult:
        fg_prob, fg_class = scores[:, 1:].max(dim=1)
        if not self.trained:
            # Random classifier heads: class ids/probabilities would be noise; report none.
            fg_prob, fg_class = torch.zeros_like(fg_prob), torch.full_like(fg_class, -1)
        boxes = _scale(boxes, resized, original, self.device)
        return RegionResult(
            boxes=boxes.cpu().numpy().astype(np.float32),
            features=features.float().cpu().numpy(),
            objects=(fg_class + 1).long().cpu().numpy(),
            cls_prob=fg_prob.float().cpu().numpy(),
        )


def fuse_conv_bn(module: torch.nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d in a Sequential into
    that convolution (the BN becomes Identity; block indices stay). Returns the count."""
    fused = 0
    for parent in module.modules():
        if not isinstance(parent, torch.nn.Sequential):
            continue
        children = list(parent.named_children())
        for (name, conv), (bn_name, bn) in zip(children, children[1:]):
            if type(conv) is torch.nn.Conv2d and type(bn) is torch.nn.BatchNorm2d:
                setattr(parent, name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
                setattr(parent, bn_name, torch.nn.Identity())
                fused += 1
    return fused


def backbone_dtype(precision: str, device: torch.device) -> torch.dtype:
    """``32``: float32; ``bf16``: bfloat16; ``auto``: bfloat16 where ``device`` computes it
    natively (``utils/hardware.py``), else float32."""
    if precision == "auto":
        return torch.bfloat16 if native_bf16(device)[0] else torch.float32
    dtypes = {"32": torch.float32, "bf16": torch.bfloat16}
    if precision not in dtypes:
        raise ValueError(f"precision={precision!r}: use 32, bf16 or auto")
    return dtypes[precision]


def _scale(boxes: torch.Tensor, source, target, device) -> torch.Tensor:
    """Boxes (N, 4) from an image of size ``source`` (h, w) to size ``target`` (h, w)."""
    ratio_h = target[0] / source[0]
    ratio_w = target[1] / source[1]
    factor = torch.tensor([ratio_w, ratio_h, ratio_w, ratio_h], device=device)
    return boxes.to(device, torch.float32).reshape(-1, 4) * factor
