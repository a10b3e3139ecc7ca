"""Test helpers for region extraction: tiny generated images with known boxes."""

import numpy as np
import torch
from torchvision.io import write_png

COLOURS = torch.tensor([[220, 40, 40], [40, 200, 40], [40, 60, 220]], dtype=torch.uint8)


def make_images(folder, count: int, size: int = 64, seed: int = 0):
    """Squares of random colour/size on a grey background; returns {key: (1, 4) box}, labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    boxes, labels = {}, {}
    for index in range(count):
        image = torch.full((3, size, size), 90, dtype=torch.uint8)
        side = int(rng.integers(size // 5, size // 2))
        x, y = (int(v) for v in rng.integers(0, size - side, size=2))
        colour = int(rng.integers(0, 3))
        image[:, y : y + side, x : x + side] = COLOURS[colour][:, None, None]
        write_png(image, str(folder / f"img{index}.png"))
        boxes[f"img{index}"] = np.array([[x, y, x + side, y + side]], dtype=np.float32)
        labels[f"img{index}"] = colour
    return boxes, labels
