"""``RegionOptions``: which regions an image gets and which features they are given.

One object, declared once, for every way of extracting regions: ``extract_features`` (and so
``mmf_imgtune_extract`` and the builders' ``extract`` sections), the
backends, and ``mmf_imgtune_generate`` (which reads the training store's recorded settings
back into it). Detections are chosen as in bottom-up attention (``selection.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# The detection-selection fields (``select_regions``' arguments; the store's record keeps them).
SELECTION = ("nms", "conf_threshold", "min_boxes", "max_boxes", "num_boxes")


@dataclass(frozen=True)
class RegionOptions:
    """Box source, detection selection and feature layer of a region extraction."""

    num_boxes: int | None = None  # keep exactly this many detections (wins over the next three)
    min_boxes: int = 10  # at least this many detections per image
    max_boxes: int = 100  # at most this many detections per image
    conf_threshold: float = 0.2  # keep detections whose best class score reaches this
    nms: float = 0.3  # IoU threshold of the per-class NMS
    # Box source of images without given boxes: the whole image + a grid x grid grid; None:
    # detect when the weights are a detector (or "random"), else the default grid (4).
    grid: int | None = None
    # Pooled features: box_head, pooled or mid (torchvision); None: the backend's default.
    layer: str | None = None

    def __post_init__(self) -> None:
        grid = self.grid
        if grid is not None and (isinstance(grid, bool) or not isinstance(grid, int) or grid < 1):
            raise ValueError(
                f"grid={grid!r}: give the cells per side, a whole number >= 1 (e.g. 4: the "
                "whole image + 4 x 4 cells = 17 regions), or leave it unset"
            )
        if self.num_boxes is None and self.min_boxes > self.max_boxes:
            raise ValueError(
                f"min_boxes ({self.min_boxes}) must not exceed max_boxes ({self.max_boxes})"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> RegionOptions:
        """The fields ``mapping`` sets (other keys are not read); the rest keep the defaults."""
        mapping = mapping or {}
        return cls(**{name: mapping[name] for name in cls.names() if name in mapping})

    def replace(self, **changes: Any) -> RegionOptions:
        """A copy with ``changes``; an unknown name raises ``TypeError`` naming the fields."""
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise TypeError(f"unknown region options {unknown}; use {', '.join(self.names())}")
        return type(self)(**{**asdict(self), **changes})

    def selection(self) -> dict[str, Any]:
        """The detection-selection settings as ``select_regions`` takes them."""
        return {name: getattr(self, name) for name in SELECTION}
