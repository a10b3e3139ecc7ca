"""``extract_features``: images in, MMF feature store out (npy folder or LMDB).

Resumable (keys already in the store are skipped), atomic per image (see
``mmf_imgtune.data.features``), and robust to bad inputs: an unreadable image is reported by
path, counted and skipped, never written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from mmf_imgtune.data.features import FeatureWriter
from mmf_imgtune.regions.base import RegionBackend
from mmf_imgtune.regions.images import check_boxes, list_images, load_image


@dataclass
class ExtractionSummary:
    """What one extraction run did."""

    images: int = 0  # images listed
    written: int = 0  # images whose features were written this run
    skipped_existing: int = 0  # already in the store (resume)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image path, reason)
    boxes_written: int = 0  # regions over all written images
    feature_dim: int = 0  # D of every written feature matrix
    seconds: float = 0.0  # wall time of the run

    @property
    def mean_boxes(self) -> float:
        return self.boxes_written / self.written if self.written else 0.0

    @property
    def images_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        lines = [
            f"images {self.images}: written {self.written}, skipped (already done) "
            f"{self.skipped_existing}, failed {len(self.failed)}",
            f"boxes per image {self.mean_boxes:.1f}, feature dim {self.feature_dim}, "
            f"{self.images_per_second:.1f} images/s over {self.seconds:.1f} s",
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def _items(images, keys, image_root):
    items, _ = list_images(images, image_root)
    if keys is not None:
        if len(keys) != len(items):
            raise ValueError(f"keys has {len(keys)} entries for {len(items)} images")
        items = [(key, path) for key, (_, path) in zip(keys, items)]
    seen: dict[str, str] = {}
    for key, path in items:
        if key in seen:
            raise ValueError(
                f"images {seen[key]} and {path} both map to feature key {key!r}; pass `keys` "
                "(or rename one) so every image has its own key"
            )
        seen[key] = path
    return items


def _run_batch(backend, batch, writer, summary) -> None:
    """Extract one batch (given-box images and detection images run separately)."""
    for given in (True, False):
        part = [entry for entry in batch if (entry[3] is not None) == given]
        if not part:
            continue
        results = backend.extract([e[2] for e in part], [e[3] for e in part])
        for (key, _, image, _), result in zip(part, results):
            height, width = image.shape[-2:]
            info = {
                "bbox": result.boxes,
                "objects": result.objects,
                "cls_prob": result.cls_prob,
                "image_width": int(width),
                "image_height": int(height),
            }
            writer.write(key, result.features, info)
            summary.written += 1
            summary.boxes_written += len(result.boxes)


def run_extraction(
    backend: RegionBackend,
    images: list[str] | str,
    output: str,
    *,
    format: str,
    boxes: dict[str, np.ndarray] | str | None,
    keys: list[str] | None,
    image_root: str | None,
    batch_size: int,
    fsync: bool,
    progress: bool,
) -> ExtractionSummary:
    """The extraction loop behind ``extract_features`` (see there for the arguments)."""
    start = time.perf_counter()
    items = _items(images, keys, image_root)
    given = list_images(boxes, image_root)[1] if isinstance(boxes, str) else (boxes or {})
    summary = ExtractionSummary(images=len(items), feature_dim=backend.feature_dim)
    writer = FeatureWriter(output, format=format, fsync=fsync)
    batch: list = []
    try:
        bar = tqdm(items, unit="img", disable=not progress, desc=f"extract ({backend.name})")
        for key, path in bar:
            if writer.exists(key):
                summary.skipped_existing += 1
                continue
            try:
                image = load_image(path)
                known = given.get(key)
                if known is not None:
                    known = check_boxes(key, known, image.shape[2], image.shape[1])
            except (OSError, ValueError) as error:
                summary.failed.append((path, str(error)))
                bar.write(f"skipped {path}: {error}")
                continue
            batch.append((key, path, image, known))
            if len(batch) == batch_size:
                _run_batch(backend, batch, writer, summary)
                batch = []
        if batch:
            _run_batch(backend, batch, writer, summary)
    finally:
        writer.close()
    summary.seconds = time.perf_counter() - start
    return summary
