"""MMF's folder feature format: ``<key>.npy`` (N, D) float32 plus ``<key>_info.npy`` (a dict).

Writes are atomic (``mmf_imgtune.io.atomic``: temp file, fsync, rename) and the info file is
written last, so a key counts as done only when both files are complete: an interrupted
extraction leaves no half-written file and a re-run redoes only what is missing.
Info pickles load through ``mmf_imgtune.utils.safe_pickle`` unless the caller opts out.
How the features were made (the extraction record, ``provenance.py``) lives beside them in
``extraction.json``, a file MMF's readers never open (they read ``<key>.npy`` by name).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmf_imgtune.io.atomic import TMP_MARK, atomic_write, remove_orphaned_temps
from mmf_imgtune.io.features.npy_format import read_npy

INFO_SUFFIX = "_info.npy"
RECORD_FILE = "extraction.json"


def normalise_key(key: str) -> str:
    """``train/abc.npy`` -> ``train/abc``; refuses keys that would escape the store."""
    key = key.removesuffix(".npy")
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValueError(
            f"feature key {key!r} must be a relative name inside the store (no '..', not "
            "absolute), e.g. 'COCO_train2014_000000000009' or 'train/42'"
        )
    return key


def atomic_save(path: Path, array: np.ndarray, fsync: bool, allow_pickle: bool = False) -> None:
    """``np.save`` to a temp file beside ``path``, then rename it into place (a killed
    process's temp files are removed by the next writer, see open_for_writing)."""
    atomic_write(
        path, lambda handle: np.save(handle, array, allow_pickle=allow_pickle), fsync=fsync
    )


class NpyFeatureStore:
    """Reader and writer of one MMF feature folder.

    Args:
        path: the folder (created when writing).
        allow_unsafe_pickle: load ``_info.npy`` with plain ``np.load(allow_pickle=True)``;
            only for folders you trust, since a pickle can run code.
        fsync: fsync each file before its rename (durable against power loss, slower).
    """

    def __init__(self, path: str, allow_unsafe_pickle: bool = False, fsync: bool = True):
        self.path = Path(path)
        self.allow_unsafe_pickle = allow_unsafe_pickle
        self.fsync = fsync
        self._keys: list[str] | None = None

    # --- reading -------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        key = normalise_key(key)
        return (self.path / f"{key}{INFO_SUFFIX}").is_file() and (
            self.path / f"{key}.npy"
        ).is_file()

    def keys(self) -> list[str]:
        if self._keys is None:
            found = []
            for info in self.path.rglob(f"*{INFO_SUFFIX}"):
                key = str(info.relative_to(self.path))[: -len(INFO_SUFFIX)]
                if (self.path / f"{key}.npy").is_file():
                    found.append(key)
            self._keys = sorted(found)
        return list(self._keys)

    def load(self, key: str) -> tuple[np.ndarray, dict]:
        """Returns (features (N, D), info dict) exactly as stored."""
        key = normalise_key(key)
        feature_path = f"{self.path}/{key}.npy"
        info_path = f"{self.path}/{key}{INFO_SUFFIX}"
        try:
            features = read_npy(feature_path)
        except FileNotFoundError:
            raise KeyError(
                f"no features for key {key!r}: {feature_path} does not exist. Check the key "
                f"(e.g. FeatureReader.keys()) or extract it with mmf_imgtune_extract."
            ) from None
        try:
            info = read_npy(info_path, self.allow_unsafe_pickle)
        except FileNotFoundError:
            # MMF accepts bare feature files; the info fields then default to zeros.
            return features, {"num_boxes": features.shape[0]}
        if not isinstance(info, dict):
            raise TypeError(f"{info_path}: expected a pickled dict, got {type(info).__name__}")
        return features, info

    def read_record(self) -> dict | None:
        """The extraction record (``extraction.json``), or None for folders without one."""
        path = self.path / RECORD_FILE
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"{path}: unreadable extraction record ({error})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}: the extraction record must be a JSON object")
        return record

    # --- writing -------------------------------------------------------------------------
    def write_record(self, record: dict) -> None:
        """Replace ``extraction.json`` atomically."""
        text = json.dumps(record, indent=1, sort_keys=True)
        atomic_write(self.path / RECORD_FILE, text, fsync=self.fsync)

    def open_for_writing(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        # Temp files of writers that died mid-write are removed; live writers' are kept.
        remove_orphaned_temps(self.path.rglob(f"*{TMP_MARK}*"))

    def write(self, key: str, features: np.ndarray, info: dict) -> None:
        key = normalise_key(key)
        feature_path = self.path / f"{key}.npy"
        feature_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(feature_path, features, self.fsync)
        # Info last: its presence marks the key as complete (see has()).
        atomic_save(
            self.path / f"{key}{INFO_SUFFIX}",
            np.array(info, dtype=object),
            self.fsync,
            allow_pickle=True,
        )
        if self._keys is not None:
            self._keys = sorted(set(self._keys) | {key})

    def close(self) -> None:
        pass
