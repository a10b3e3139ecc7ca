"""Grid regions: the whole image plus a k x k grid of cells, for when no detector is trained.

Jiang et al. 2020 ("In Defense of Grid Features for Visual Question Answering", CVPR) show
that features pooled over a regular grid of an ImageNet/detection backbone's map serve VQA and
captioning about as well as detector regions, at a fraction of the cost: no proposal network,
no box head, no NMS. Here the "grid" is k x k equal cells over the original image, plus one
box covering the whole image (a global token, as the [CLS]-like first region of MMF's grid
baselines); each is RoIAligned from the backbone like any given box, so the features and the
``bbox``/``boxes_5d`` geometry downstream models read mean what they mean for detector boxes.
"""

from __future__ import annotations

import numpy as np

# Cells per side when no detector weights and no boxes are given: 1 + 4 x 4 = 17 regions,
# under the 36 or 100 ``max_features`` of MMF's data sets and cheap as LLM visual tokens.
DEFAULT_GRID = 4


def grid_boxes(width: int, height: int, grid: int) -> np.ndarray:
    """The whole image, then the k x k cells row by row (top-left first).

    Args:
        width, height: image size in pixels.
        grid: cells per side, k >= 1.
    Returns:
        (1 + k * k, 4) float32 x1, y1, x2, y2 in pixels; cells tile the image exactly.
    """
    if not isinstance(grid, (int, np.integer)) or isinstance(grid, bool) or grid < 1:
        raise ValueError(f"grid must be a whole number of cells per side >= 1, got {grid!r}")
    xs = np.linspace(0.0, float(width), grid + 1, dtype=np.float64)
    ys = np.linspace(0.0, float(height), grid + 1, dtype=np.float64)
    cells = [[xs[c], ys[r], xs[c + 1], ys[r + 1]] for r in range(grid) for c in range(grid)]
    whole = [[0.0, 0.0, float(width), float(height)]]
    return np.asarray(whole + cells, dtype=np.float32)


def grid_region_count(grid: int) -> int:
    """Regions per image of a k x k grid plus the whole image."""
    return 1 + grid * grid
