"""Reading MMF annotation files: ``.jsonl`` (one object a line), ``.json`` (``{"data": [...]}``
or a list) and ``.npy`` (MMF's imdb: an object array whose first entry may be a header)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from mmf_imgtune.errors import DataError


class AnnotationError(DataError):
    """A missing or malformed annotation file; the message names the file (and line)."""


def load_annotations(path: str) -> list[dict[str, Any]]:
    if not os.path.isfile(path):
        raise AnnotationError(f"annotation file not found: {path}")
    if path.endswith(".jsonl"):
        return _load_jsonl(path)
    if path.endswith(".json"):
        return _load_json(path)
    if path.endswith(".npy"):
        return _load_imdb(path)
    raise AnnotationError(f"{path}: unknown annotation format; use .jsonl, .json or .npy")


def _load_jsonl(path: str) -> list[dict[str, Any]]:
    items = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                raise AnnotationError(f"{path}:{number}: not UTF-8 text ({error})") from None
            if not line:
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise AnnotationError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(item, dict):
                raise AnnotationError(f"{path}:{number}: expected a JSON object, got {item!r:.60}")
            items.append(item)
    if not items:
        raise AnnotationError(f"{path}: no annotations (the file is empty)")
    return items


def _load_json(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AnnotationError(f"{path}: not valid UTF-8 JSON ({error})") from None
    items = content.get("data") if isinstance(content, dict) else content
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AnnotationError(f"{path}: expected {{'data': [objects]}} or a list of objects")
    if not items:
        raise AnnotationError(f"{path}: no annotations (the 'data' list is empty)")
    return items


def _load_imdb(path: str) -> list[dict[str, Any]]:
    # imdb files are object arrays, hence pickles: read them with the restricted loader.
    from mmf_imgtune.utils.safe_pickle import safe_load_npy

    array = safe_load_npy(path)
    entries = list(array) if isinstance(array, (np.ndarray, list)) and np.ndim(array) else [array]
    items = [dict(item) for item in entries if isinstance(item, dict) and "image_name" in item]
    if not items:
        items = [dict(item) for item in entries if isinstance(item, dict)]
    if not items:
        raise AnnotationError(f"{path}: no annotation dicts in this imdb file")
    return items
