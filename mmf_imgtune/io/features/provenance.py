"""The extraction record: how the features of a store were made, kept with the store.

Every store ``mmf_imgtune_extract`` writes carries one JSON record (npy folder:
``extraction.json`` beside the files; LMDB: the key ``__mmf_imgtune_extraction__``, not listed
in ``keys``), so MMF's readers are unaffected. Fields::

    {"format": "mmf_imgtune.extraction/1",
     "backend": "torchvision", "backbone": "mobilenet_v2", "layer": "mid", "feature_dim": 128,
     "weights": {"name": "imagenet-mobilenet_v2", "sha256": "...", "path": "..."},
     "config_file": null,                      # detectron2: {"path", "sha256"}
     "input_size": {"min_size": 320, "max_size": 640},
     "dtype": "float32",                       # the backbone's compute dtype (bfloat16...)
     "box_sources": {"grid": {"grid": 4, "images": 10},        # the sources used so far
                     "given": {"images": 5},
                     "detector": {"nms": 0.3, "conf_threshold": 0.2, "min_boxes": 10,
                                  "max_boxes": 100, "num_boxes": null, "images": 0}},
     "unrecorded_keys": 0,                     # keys written before the store had a record
     "written_by": "mmf_imgtune 0.1.0"}

A run that would add features made another way (another layer, weights, backbone, input size,
dtype, or grid size / detector selection for the same box source) fails before writing anything;
``recipe_differences`` names what differs. Readers use ``store_feature_dim`` to check a store
against a model before training.
"""

from __future__ import annotations

import os
from typing import Any

from mmf_imgtune.io.features import is_lmdb_path
from mmf_imgtune.io.features.lmdb_store import LmdbFeatureStore
from mmf_imgtune.io.features.npy_store import NpyFeatureStore

RECORD_FORMAT = "mmf_imgtune.extraction/1"
# Fields whose values decide what a feature vector means: all must agree within one store.
RECIPE_KEYS = (
    "backend",
    "backbone",
    "layer",
    "feature_dim",
    "weights",
    "config_file",
    "input_size",
    "dtype",
)
# What a record written before a field existed meant by it.
RECIPE_DEFAULTS = {"dtype": "float32"}
BOX_SOURCES = ("given", "grid", "detector")


def _open_store(path: str) -> Any:
    return LmdbFeatureStore(path) if is_lmdb_path(path) else NpyFeatureStore(path)


def read_record(path: str) -> dict | None:
    """The extraction record of the store at ``path``; None when it has none (or no store)."""
    if not os.path.exists(path):
        return None
    return _open_store(path).read_record()


def _same_weights(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, dict) and isinstance(wanted, dict):
        if stored.get("sha256") and wanted.get("sha256"):
            return stored["sha256"] == wanted["sha256"]
        return stored.get("name") == wanted.get("name")
    return stored == wanted


def _show(value: Any) -> str:
    if isinstance(value, dict) and "name" in value:  # weights / config file identity
        digest = value.get("sha256")
        return f"{value['name']}" + (f" (sha256 {digest[:12]})" if digest else "")
    if isinstance(value, dict) and set(value) == {"min_size", "max_size"}:
        return f"{value['min_size']}-{value['max_size']} px"
    return repr(value)


def recipe_differences(stored: dict, wanted: dict) -> list[str]:
    """``key: store X, this run Y`` for every recipe field (and box source setting) that differs.

    Box sources are compared only where both use the same one (a store may hold given boxes
    for some images and grid regions for the others).
    """
    differences = []
    for key in RECIPE_KEYS:
        default = RECIPE_DEFAULTS.get(key)
        old, new = stored.get(key, default), wanted.get(key, default)
        same = _same_weights(old, new) if key in ("weights", "config_file") else old == new
        if not same:
            differences.append(f"{key}: store {_show(old)}, this run {_show(new)}")
    old_sources, new_sources = stored.get("box_sources") or {}, wanted.get("box_sources") or {}
    for source in sorted(set(old_sources) & set(new_sources)):
        old = {k: v for k, v in old_sources[source].items() if k != "images"}
        new = {k: v for k, v in new_sources[source].items() if k != "images"}
        if old != new:
            differences.append(f"{source} boxes: store {old}, this run {new}")
    return differences


def describe_box_sources(sources: dict) -> str:
    parts = []
    for name in BOX_SOURCES:
        if name not in sources:
            continue
        spec = sources[name]
        count = spec.get("images")
        if name == "grid":
            text = f"whole image + {spec['grid']}x{spec['grid']} grid"
        elif name == "given":
            text = "given boxes"
        else:
            text = "detected (" + ", ".join(f"{k} {v}" for k, v in spec.items() if k != "images")
            text += ")"
        parts.append(text + (f" [{count} images]" if count is not None else ""))
    return "; ".join(parts) or "no boxes yet"


def describe_record(record: dict) -> str:
    """One line a user can compare: backend, backbone, layer and width, weights, boxes."""
    size = record.get("input_size")
    return (
        f"{record.get('backend')} {record.get('backbone')} layer {record.get('layer')!r} "
        f"({record.get('feature_dim')}-d), weights {_show(record.get('weights'))}, input "
        f"{_show(size) if size else 'default'}, "
        f"{record.get('dtype', RECIPE_DEFAULTS['dtype'])} backbone, boxes: "
        f"{describe_box_sources(record.get('box_sources') or {})}"
    )


def store_feature_dim(path: str) -> tuple[int | None, str]:
    """The feature width of a store and where it was read: the record, else its first key.

    Returns:
        (D or None for an empty store, a short description of the evidence).
    """
    record = read_record(path)
    if record and record.get("feature_dim"):
        return int(record["feature_dim"]), f"extraction record: {describe_record(record)}"
    store = _open_store(path)
    keys = store.keys()
    if not keys:
        return None, "empty store"
    features, _ = store.load(keys[0])
    return int(features.shape[-1]), f"no extraction record; width of key '{keys[0]}'"
