"""Reading MMF annotation files: ``.jsonl`` (one object a line), ``.json`` (``{"data": [...]}``
or a list) and ``.npy`` (MMF's imdb: an object array whose first entry may be a header), plus
the other text files data sets read (released json files, vocabularies) and checks of record
fields. Every problem is an ``AnnotationError`` naming the file and the line or record."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from mmf_imgtune.errors import DataError
from mmf_imgtune.utils.safe_pickle import safe_load_npy


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
    # "\n" only: JSON strings may hold U+2028 and friends, which splitlines() would split on.
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        line = line.strip()
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


def _read_text(path: str) -> str:
    if not os.path.isfile(path):
        raise AnnotationError(f"file not found: {path}")
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        return raw.decode("utf-8-sig")  # -sig: a BOM written by Windows editors is fine
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise AnnotationError(
            f"{path}:{line}: not UTF-8 text ({error.reason} at byte {error.start}); re-save the "
            "file as UTF-8"
        ) from None


def read_json(path: str) -> Any:
    """A whole JSON file (e.g. VQA's released questions); errors name the file and line."""
    text = _read_text(path)
    if not text.strip():
        raise AnnotationError(f"{path}: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None


def read_json_object(path: str, list_key: str, error: str) -> dict:
    """A JSON file holding an object with a list under ``list_key`` (VQA's released files,
    Karpathy's and COCO's json); otherwise ``AnnotationError(f"{path}: {error}")``."""
    content = read_json(path)
    if not isinstance(content, dict) or not isinstance(content.get(list_key), list):
        raise AnnotationError(f"{path}: {error}")
    return content


def read_lines(path: str, what: str = "entries") -> list[str]:
    """The non-blank lines of a UTF-8 text file (vocabularies); an empty file is an error."""
    lines = [line.strip() for line in _read_text(path).splitlines() if line.strip()]
    if not lines:
        raise AnnotationError(f"{path}: no {what} (the file is empty)")
    return lines


def check_field(record: dict, key: str, kind: str, where: str, num_classes: int = 2) -> Any:
    """``record[key]`` checked (and normalised) to be of ``kind``; raises naming ``where``.

    Kinds: ``text`` a string; ``texts`` a non-empty list of strings (a string becomes a
    one-item list); ``label`` an integer class in ``0..num_classes-1`` (``"1"`` is accepted,
    as csv-converted files have it); ``int`` a non-negative integer (``"12"`` too); ``id`` an
    integer or a string.
    """
    if key not in record:
        raise AnnotationError(f"{where}: '{key}' is missing")
    value = record[key]
    if kind == "text" and isinstance(value, str):
        return value
    if kind == "texts":
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            return values
    if kind in ("label", "int") and not isinstance(value, (bool, float)):
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = -1
        if number >= 0 and (kind == "int" or number < num_classes):
            return number
    if kind == "id" and isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    expected = {
        "text": "a string",
        "texts": "a string or a non-empty list of strings",
        "label": f"an integer class in 0..{num_classes - 1}",
        "int": "a non-negative integer",
        "id": "an integer or a string",
    }[kind]
    raise AnnotationError(f"{where}: '{key}' must be {expected}, got {value!r:.80}")


def _load_json(path: str) -> list[dict[str, Any]]:
    content = read_json(path)
    items = content.get("data") if isinstance(content, dict) else content
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AnnotationError(f"{path}: expected {{'data': [objects]}} or a list of objects")
    if not items:
        raise AnnotationError(f"{path}: no annotations (the 'data' list is empty)")
    return items


def _load_imdb(path: str) -> list[dict[str, Any]]:
    # imdb files are object arrays, hence pickles: read them with the restricted loader.

    array = safe_load_npy(path)
    entries = list(array) if isinstance(array, (np.ndarray, list)) and np.ndim(array) else [array]
    items = [dict(item) for item in entries if isinstance(item, dict) and "image_name" in item]
    if not items:
        items = [dict(item) for item in entries if isinstance(item, dict)]
    if not items:
        raise AnnotationError(f"{path}: no annotation dicts in this imdb file")
    return items
