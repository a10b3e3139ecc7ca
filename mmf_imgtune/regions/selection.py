"""Choosing which detections keep their features, as in bottom-up attention.

Anderson et al. 2018 ("Bottom-Up and Top-Down Attention", the Visual Genome features MMF
ships): run per-class NMS over the class-specific regressed boxes, give every proposal the
highest class score it kept through NMS, then keep proposals above a confidence threshold,
at least ``min_boxes`` and at most ``max_boxes`` of them (or exactly ``num_boxes``). The kept
box is the proposal itself, so its pooled feature is the one the box head saw.
"""

from __future__ import annotations

import torch
from torchvision.ops import batched_nms

# Class scores below this never survive selection; skipping them keeps NMS cheap on CPU.
SCORE_FLOOR = 1e-3


def select_regions(
    class_boxes: torch.Tensor,
    scores: torch.Tensor,
    *,
    nms: float,
    conf_threshold: float,
    min_boxes: int,
    max_boxes: int,
    num_boxes: int | None,
) -> torch.Tensor:
    """Indices of the proposals to keep, best first.

    Args:
        class_boxes: (K, C, 4) regressed boxes per class (class 0 = background).
        scores: (K, C) softmax class probabilities.
        nms: IoU threshold of the per-class NMS.
        conf_threshold: keep proposals whose best surviving class score reaches this.
        min_boxes, max_boxes: bounds on the kept count when ``num_boxes`` is None.
        num_boxes: keep exactly this many (fewer only if there are fewer proposals).
    Returns:
        (M,) long indices into the K proposals.
    """
    count, classes = scores.shape
    fg_scores = scores[:, 1:]
    proposal, cls = torch.nonzero(fg_scores >= SCORE_FLOOR, as_tuple=True)
    max_conf = torch.zeros(count, dtype=scores.dtype, device=scores.device)
    if proposal.numel():
        boxes = class_boxes[proposal, cls + 1]
        values = fg_scores[proposal, cls]
        keep = batched_nms(boxes, values, cls, nms)
        max_conf.scatter_reduce_(0, proposal[keep], values[keep], reduce="amax")
    order = torch.argsort(max_conf, descending=True, stable=True)
    if num_boxes is not None:
        return order[:num_boxes]
    above = int((max_conf >= conf_threshold).sum())
    return order[: min(max_boxes, max(min_boxes, above))]
