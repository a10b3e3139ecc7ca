"""``extract_features``: images in, MMF feature store out (npy folder or LMDB).

Resumable (keys already in the store are skipped), atomic per image (see
``mmf_imgtune.io.features``), and robust to bad inputs: an unreadable image is reported by
path, counted and skipped, never written. Every image's boxes come from one of three sources
(``recipe.py``: given, grid, detector); the run prints one line saying which, and the store's
extraction record is checked (a store made another way fails before anything is written) and
updated. Images of one batch run together per size, so a feature does not depend on which
other images shared its batch (``mmf_imgtune_generate`` on one image reproduces it).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from mmf_imgtune.io.features import FeatureWriter
from mmf_imgtune.regions import recipe as recipes
from mmf_imgtune.regions.base import RegionBackend
from mmf_imgtune.regions.grid import grid_boxes
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
    box_sources: dict[str, int] = field(default_factory=dict)  # source -> images written
    record: dict = field(default_factory=dict)  # the store's extraction record after the run

    @property
    def mean_boxes(self) -> float:
        return self.boxes_written / self.written if self.written else 0.0

    @property
    def images_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        sources = ", ".join(f"{name} {count}" for name, count in self.box_sources.items() if count)
        lines = [
            f"images {self.images}: written {self.written}, skipped (already done) "
            f"{self.skipped_existing}, failed {len(self.failed)}",
            f"boxes per image {self.mean_boxes:.1f} ({sources or 'none written'}), feature dim "
            f"{self.feature_dim}, {self.images_per_second:.1f} images/s over {self.seconds:.1f} s",
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
    """Extract one batch: images run together per (boxes known, size), the way a batch of
    one would run them, so batching never changes a feature."""
    groups: dict[tuple, list] = {}
    for entry in batch:
        groups.setdefault((entry[3] is None, *entry[2].shape[-2:]), []).append(entry)
    for part in groups.values():
        results = backend.extract([e[2] for e in part], [e[3] for e in part])
        for (key, _, image, _, source), result in zip(part, results):
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
            summary.box_sources[source] = summary.box_sources.get(source, 0) + 1


def _plan(backend, items, writer, given, grid) -> tuple[list, dict, dict, dict]:
    """The images still to extract, each with its box source; the settings of the sources
    they use; counts per source (and ``skipped``); the source of images without boxes."""
    fallback, spec = recipes.fallback_source(backend, grid)
    todo, counts, skipped = [], {}, 0
    for key, path in items:
        if writer.exists(key):
            skipped += 1
            continue
        source = "given" if key in given else fallback
        todo.append((key, path, source))
        counts[source] = counts.get(source, 0) + 1
    sources = {name: ({} if name == "given" else spec) for name in counts}
    return todo, sources, {"skipped": skipped, **counts}, {fallback: spec}


def _boxes_for(key, image, source, given, sources):
    width, height = int(image.shape[2]), int(image.shape[1])
    if source == "given":
        return check_boxes(key, given[key], width, height)
    if source == "grid":
        return grid_boxes(width, height, sources["grid"]["grid"])
    return None  # the detector proposes them


def run_extraction(
    backend: RegionBackend,
    images: list[str] | str,
    output: str,
    *,
    format: str,
    boxes: dict[str, np.ndarray] | str | None,
    grid: int | None,
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
    try:
        todo, sources, counts, fallback = _plan(backend, items, writer, given, grid)
        summary.skipped_existing = counts.pop("skipped")
        stored = writer.read_record()
        existing = len(writer.keys()) if stored is None else 0
        wanted = recipes.new_record(backend, sources)
        # Checked against the run's intent too: a re-run whose images are all done but whose
        # grid or detector settings differ fails as well (its user thinks the store is new).
        record = recipes.check_store(output, stored, existing, wanted, fallback)
        summary.record = record
        if not todo:
            return summary
        print(recipes.notice(backend, sources, counts, grid), flush=True)
        writer.write_record(record)
        try:
            _extract_all(backend, todo, given, sources, writer, summary, batch_size, progress)
        except BaseException:
            # Count what was written before the failure, without hiding the failure itself.
            summary.record = recipes.count_images(record, summary.box_sources)
            with contextlib.suppress(Exception):
                writer.write_record(summary.record)
            raise
        summary.record = recipes.count_images(record, summary.box_sources)
        writer.write_record(summary.record)
    finally:
        writer.close()
        summary.seconds = time.perf_counter() - start
    return summary


def _extract_all(backend, todo, given, sources, writer, summary, batch_size, progress) -> None:
    batch: list = []
    # disable=None: no bar when stderr is not a terminal (logs get no carriage-return spew).
    bar = tqdm(
        todo, unit="img", disable=None if progress else True, desc=f"extract ({backend.name})"
    )
    for key, path, source in bar:
        try:
            image = load_image(path)
            known = _boxes_for(key, image, source, given, sources)
        except (OSError, ValueError) as error:
            summary.failed.append((path, str(error)))
            bar.write(f"skipped {path}: {error}")
            continue
        batch.append((key, path, image, known, source))
        if len(batch) == batch_size:
            _run_batch(backend, batch, writer, summary)
            batch = []
    if batch:
        _run_batch(backend, batch, writer, summary)
