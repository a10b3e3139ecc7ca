"""Which boxes an extraction pools (given, grid or detected), and the record of how it ran.

Three box sources, the same everywhere (``mmf_imgtune_extract``, the builders' ``extract``
options, ``mmf_imgtune_generate``):

- **given**: the boxes of ``boxes`` (an annotation file or a dict), pooled as they are;
- **grid**: the whole image plus a k x k grid (``grid.py``; Jiang et al. 2020);
- **detector**: proposals of a trained detector (``weights``), selected as in bottom-up
  attention; an untrained detector only when asked for by name (``weights="random"``).

An image without given boxes gets the grid when ``grid`` is set, else the detector when there
is one, else the default grid (``DEFAULT_GRID``): never random proposals by accident.
``notice`` is the one line a run prints about it; ``check_store`` compares a store's record
(``mmf_imgtune.io.features.provenance``) with this run's before anything is written.
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.io.features.provenance import (
    RECORD_FORMAT,
    describe_record,
    recipe_differences,
)
from mmf_imgtune.regions.grid import DEFAULT_GRID, grid_region_count
from mmf_imgtune.regions.options import SELECTION
from mmf_imgtune.version import __version__


class ExtractionMismatchError(MMFImgtuneError, ValueError):
    """A store holds features made with other settings than the run that would add to it."""


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    """sha256 of a file, cached per (path, size, mtime) within the process."""
    stat = os.stat(path)
    return _sha256(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


def weights_identity(weights: str | None, imagenet_file: str | None = None) -> dict:
    """What a ``weights`` argument names, in a form a later run can compare and reload.

    Returns:
        ``{"name", "argument"}`` plus ``sha256`` (and ``path``) for files: ``name`` is
        ``imagenet-mobilenet_v2`` (no weights given: the offline ImageNet backbone),
        ``random``, the file's name, or ``torchvision:<NAME>`` for torchvision's weight names.
    """
    if weights is None:
        identity = {"name": "imagenet-mobilenet_v2", "argument": None}
        if imagenet_file:
            identity["sha256"] = file_sha256(imagenet_file)
        return identity
    if weights == "random":
        return {"name": "random", "argument": "random"}
    if os.path.isfile(weights):
        path = os.path.abspath(weights)
        return {
            "name": os.path.basename(path),
            "argument": path,
            "path": path,
            "sha256": file_sha256(path),
        }
    return {"name": f"torchvision:{weights}", "argument": weights}


def selection_spec(selection: dict) -> dict:
    """The detector's box selection settings as recorded (``selection.select_regions``)."""
    return {key: selection[key] for key in SELECTION}


def fallback_source(backend: Any, grid: int | None) -> tuple[str, dict]:
    """The source of an image without given boxes: ("grid", {"grid": k}) or ("detector", ...)."""
    if grid is not None:
        return "grid", {"grid": int(grid)}
    if getattr(backend, "detects", False):
        return "detector", selection_spec(backend.selection)
    return "grid", {"grid": DEFAULT_GRID}


def notice(backend: Any, sources: dict[str, dict], counts: dict[str, int], grid: int | None) -> str:
    """The one line a run prints about where its regions come from, e.g.::

    [mmf_imgtune] regions: whole image + 4x4 grid (17 per image; grid features, Jiang et
    al. 2020) pooled from imagenet-mobilenet_v2 layer 'mid' (128-d): no detector weights
    and no boxes given (set boxes, grid or weights to change it)
    """
    recipe = backend.recipe()
    weights = recipe["weights"]["name"]
    parts = []
    if counts.get("given"):
        parts.append(f"given boxes for {counts['given']} images")
    if counts.get("grid"):
        k = sources["grid"]["grid"]
        text = f"whole image + {k}x{k} grid ({grid_region_count(k)} per image"
        text += "; grid features, Jiang et al. 2020)" if grid is None else ")"
        if parts:
            text += f" for the {counts['grid']} others"
        parts.append(text)
    if counts.get("detector"):
        spec = sources["detector"]
        bounds = (
            f"{spec['num_boxes']} boxes"
            if spec["num_boxes"] is not None
            else f"{spec['min_boxes']}-{spec['max_boxes']} boxes above {spec['conf_threshold']}"
        )
        who = (
            "an UNTRAINED detector (weights=random: random proposals, for tests only)"
            if weights == "random"
            else f"detector {weights}"
        )
        parts.append(f"detected by {who}, {bounds}, NMS {spec['nms']}")
    line = (
        f"[mmf_imgtune] regions: {'; '.join(parts)}, pooled from {weights} layer "
        f"'{recipe['layer']}' ({recipe['feature_dim']}-d)"
    )
    if counts.get("grid") and grid is None:
        line += ": no detector weights and no boxes given (set boxes, grid or weights to change it)"
    return line


def new_record(backend: Any, sources: dict[str, dict]) -> dict:
    """The record of a fresh store: the backend's recipe plus the box sources this run uses."""
    return {
        "format": RECORD_FORMAT,
        **backend.recipe(),
        "box_sources": {name: {**spec, "images": 0} for name, spec in sources.items()},
        "unrecorded_keys": 0,
        "written_by": f"mmf_imgtune {__version__}",
    }


def check_store(
    path: str, stored: dict | None, existing_keys: int, wanted: dict, fallback: dict
) -> dict:
    """The record to write before adding to the store at ``path``; raises on a mismatch.

    Args:
        stored: the store's record (None: a new store, or one written before records).
        existing_keys: keys already in the store (counted only when ``stored`` is None).
        wanted: ``new_record`` of this run.
        fallback: ``{source: settings}`` for images without given boxes (compared even
            when no such image is left to extract).
    Raises:
        ExtractionMismatchError: naming both settings and the ways out.
    """
    if stored is None:
        if existing_keys:
            print(
                f"[mmf_imgtune] note: {path} holds {existing_keys} images extracted before "
                "stores recorded their settings; they cannot be checked against this run's "
                f"({describe_record(wanted)}). Recording this run's settings from now on."
            )
        return {**wanted, "unrecorded_keys": existing_keys}
    intent = {**wanted, "box_sources": {**fallback, **wanted["box_sources"]}}
    differences = recipe_differences(stored, intent)
    if differences:
        raise ExtractionMismatchError(
            f"{path} holds features extracted with other settings than this run's: "
            f"{'; '.join(differences)}. The store: {describe_record(stored)}. Adding to it "
            f"would mix two extractions in one store. Run with the store's settings"
            f"{_settings_hint(stored, intent)}, extract into another output path, or delete "
            f"{path} to extract everything again."
        )
    merged = dict(stored)
    sources = {name: dict(spec) for name, spec in (stored.get("box_sources") or {}).items()}
    for name, spec in wanted["box_sources"].items():
        sources.setdefault(name, dict(spec))
    merged["box_sources"] = sources
    return merged


def _settings_hint(stored: dict, wanted: dict) -> str:
    """`` (layer='mid', min_size=320)``: the options that would reproduce the store."""
    hints = []
    for key in ("backend", "backbone", "layer"):
        if stored.get(key) != wanted.get(key):
            hints.append(f"{key}={stored.get(key)!r}")
    old_size, new_size = stored.get("input_size") or {}, wanted.get("input_size") or {}
    hints += [f"{k}={v}" for k, v in old_size.items() if new_size.get(k) != v]
    old_dtype = stored.get("dtype", "float32")
    if old_dtype != wanted.get("dtype", "float32"):
        hints.append(f"precision={'bf16' if old_dtype == 'bfloat16' else '32'}")
    old_weights = stored.get("weights") or {}
    if old_weights.get("name") != (wanted.get("weights") or {}).get("name"):
        hints.append(f"weights={old_weights.get('argument')!r}")
    for source, spec in (stored.get("box_sources") or {}).items():
        if source == "grid" and "grid" in (wanted.get("box_sources") or {}):
            if spec.get("grid") != wanted["box_sources"]["grid"].get("grid"):
                hints.append(f"grid={spec.get('grid')}")
    return f" ({', '.join(hints)})" if hints else ""


def count_images(record: dict, counts: dict[str, int]) -> dict:
    """``record`` with this run's written images added to each box source's count."""
    sources = {name: dict(spec) for name, spec in record["box_sources"].items()}
    for name, count in counts.items():
        if count:
            sources[name]["images"] = int(sources[name].get("images", 0)) + count
    return {**record, "box_sources": sources}
