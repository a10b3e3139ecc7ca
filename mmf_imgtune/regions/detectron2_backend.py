"""Region features from a detectron2 model (Wu et al. 2019), through detectron2's public API.

detectron2 is optional and imported here only, lazily: every other part of mmf_imgtune works
without it. The backend builds the model from a detectron2 config file and weights the user
gives (e.g. a COCO R50-FPN Faster R-CNN: 1024-d box head; a C4 model such as the VG bottom-up
R101-C4 port: 2048-d res5 features averaged over the box grid), then runs backbone, proposal
generator (or the given boxes), box pooler and box head, and keeps the pooled box features of
the detections chosen as in bottom-up attention (``mmf_imgtune.regions.selection``).
Install detectron2 with its own guide: https://detectron2.readthedocs.io/en/latest/tutorials/install.html
"""

from __future__ import annotations

import os

import numpy as np
import torch

from mmf_imgtune.regions.base import RegionBackend, RegionResult
from mmf_imgtune.regions.options import RegionOptions
from mmf_imgtune.regions.recipe import file_sha256, weights_identity
from mmf_imgtune.regions.selection import select_regions
from mmf_imgtune.registry import registry

INSTALL_HINT = (
    "the detectron2 backend needs detectron2, which is not importable here ({error}). Install "
    "it with its guide, https://detectron2.readthedocs.io/en/latest/tutorials/install.html "
    "(mmf_imgtune ships no copy of it), or use --backend torchvision."
)


def _import_detectron2():
    try:
        # detectron2 is optional: imported only when this backend is built
        import detectron2.data.transforms as transforms
        from detectron2.checkpoint import DetectionCheckpointer
        from detectron2.config import get_cfg
        from detectron2.modeling import build_model
        from detectron2.structures import Boxes, Instances
    except ImportError as error:
        raise ImportError(INSTALL_HINT.format(error=error)) from None
    return transforms, DetectionCheckpointer, get_cfg, build_model, Boxes, Instances


@registry.register_region_backend("detectron2")
class Detectron2Backend(RegionBackend):
    """Args as ``extract_features``: ``config_file`` and ``weights`` are required."""

    name = "detectron2"
    detects = True  # weights are required: the model always has trained heads

    @classmethod
    def from_options(
        cls,
        backbone: str | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        precision: str = "32",
        **options,
    ) -> Detectron2Backend:
        """``extract_features``'s options; the torchvision-only ones (``backbone``, the
        resize ``min_size``/``max_size``: the detectron2 config sets them; ``precision``:
        detectron2 runs its config's dtype) are not used."""
        if str(precision) not in ("32", "auto"):
            raise ValueError(
                f"precision={precision!r}: the detectron2 backend extracts in float32 only; "
                "use precision 32 (or auto, which means 32 here)"
            )
        return cls(**options)

    def __init__(
        self,
        *,
        weights: str | None,
        config_file: str | None,
        device: str,
        regions: RegionOptions,
    ):
        t, checkpointer, get_cfg, build_model, self._boxes, self._instances = _import_detectron2()
        if not config_file or not weights:
            raise ValueError(
                "the detectron2 backend needs --config-file (a detectron2 yaml) and --weights "
                "(the model's .pkl/.pth), e.g. COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml"
            )
        if regions.layer not in (None, "box_head"):
            raise ValueError(f"detectron2 backend: layer must be 'box_head', got {regions.layer!r}")
        cfg = get_cfg()
        cfg.merge_from_file(config_file)
        cfg.MODEL.WEIGHTS = weights
        cfg.MODEL.DEVICE = device
        cfg.freeze()
        self.model = build_model(cfg).eval()
        checkpointer(self.model).load(weights)
        self.weights, self.config_file = weights, config_file
        self.sizes = (int(cfg.INPUT.MIN_SIZE_TEST), int(cfg.INPUT.MAX_SIZE_TEST))
        self.backbone = str(cfg.MODEL.BACKBONE.NAME)
        self.input_format = cfg.INPUT.FORMAT
        self.resize = t.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
        self.c4 = not hasattr(self.model.roi_heads, "box_head")
        self.feature_dim = self._probe_dim()
        self.selection = regions.selection()

    def recipe(self) -> dict:
        config = os.path.abspath(self.config_file)
        return {
            "backend": self.name,
            "backbone": self.backbone,
            "layer": "box_head",  # C4 models: res5 averaged over the box (their box head)
            "feature_dim": int(self.feature_dim),
            "weights": weights_identity(self.weights),
            "config_file": {
                "name": os.path.basename(config),
                "path": config,
                "sha256": file_sha256(config),
            },
            "input_size": {"min_size": self.sizes[0], "max_size": self.sizes[1]},
        }

    def _probe_dim(self) -> int:
        heads = self.model.roi_heads
        if self.c4:  # Res5ROIHeads: res5 output channels
            return int(heads.res5[-1].conv3.out_channels)
        return int(heads.box_head.output_shape.channels)

    def _box_features(self, features: dict, boxes: list) -> torch.Tensor:
        """(K, D) pooled box features for detectron2 ``Boxes`` per image."""
        heads = self.model.roi_heads
        if self.c4:
            pooled = heads._shared_roi_transform([features[f] for f in heads.in_features], boxes)
            return pooled.mean(dim=(2, 3))  # (K, 2048)
        pooled = heads.box_pooler([features[f] for f in heads.box_in_features], boxes)
        return heads.box_head(pooled)  # (K, 1024)

    @torch.inference_mode()
    def extract(
        self, images: list[torch.Tensor], boxes: list[np.ndarray | None]
    ) -> list[RegionResult]:
        inputs, transforms = [], []
        for image in images:
            array = image.permute(1, 2, 0).numpy()  # (H, W, 3) RGB uint8
            transform = self.resize.get_transform(array)
            resized = transform.apply_image(array)
            if self.input_format == "BGR":
                resized = resized[:, :, ::-1]
            tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)))
            inputs.append({"image": tensor, "height": image.shape[1], "width": image.shape[2]})
            transforms.append(transform)
        batch = self.model.preprocess_image(inputs)
        features = self.model.backbone(batch.tensor)
        given = all(b is not None for b in boxes)
        if given:
            proposal_boxes = [
                self._boxes(torch.as_tensor(t.apply_box(b), device=batch.tensor.device))
                for t, b in zip(transforms, boxes)
            ]
        else:
            proposals, _ = self.model.proposal_generator(batch, features, None)
            proposal_boxes = [p.proposal_boxes for p in proposals]
        region_features = self._box_features(features, proposal_boxes)
        predictor = self.model.roi_heads.box_predictor
        predictions = predictor(region_features)
        instances = [
            self._instances(size, proposal_boxes=b)
            for size, b in zip(batch.image_sizes, proposal_boxes)
        ]
        probs = predictor.predict_probs(predictions, instances)  # per image (Ki, C+1), bg last
        class_boxes = predictor.predict_boxes(predictions, instances)  # per image (Ki, C*4)
        results, start = [], 0
        for index, props in enumerate(proposal_boxes):
            count = len(props)
            stop = start + count
            if count == 0:  # the RPN found nothing (a blank image): an image without regions
                results.append(_no_regions(self.feature_dim))
                start = stop
                continue
            # Our selection expects background first, class-specific boxes (Ki, C+1, 4).
            scores = torch.cat([probs[index][:, -1:], probs[index][:, :-1]], dim=1)
            per_class = class_boxes[index].reshape(count, -1, 4)
            per_class = per_class.expand(count, scores.shape[1] - 1, 4)
            per_class = torch.cat([per_class[:, :1], per_class], dim=1)
            keep = torch.arange(count, device=scores.device)
            if not given:
                keep = select_regions(per_class, scores, **self.selection)
            fg_prob, fg_class = scores[keep, 1:].max(dim=1)
            box_array = props.tensor[keep].cpu().numpy()
            # Back to original pixels: invert the resize's scale.
            height, width = images[index].shape[1:]
            resized_h, resized_w = batch.image_sizes[index]
            scale = np.array([width / resized_w, height / resized_h] * 2, dtype=np.float32)
            results.append(
                RegionResult(
                    boxes=(box_array * scale).astype(np.float32),
                    features=region_features[start:stop][keep].float().cpu().numpy(),
                    objects=(fg_class + 1).cpu().numpy().astype(np.int64),
                    cls_prob=fg_prob.float().cpu().numpy(),
                )
            )
            start = stop
        return results


def _no_regions(feature_dim: int) -> RegionResult:
    return RegionResult(
        boxes=np.zeros((0, 4), np.float32),
        features=np.zeros((0, feature_dim), np.float32),
        objects=np.zeros(0, np.int64),
        cls_prob=np.zeros(0, np.float32),
    )
