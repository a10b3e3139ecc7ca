"""Region feature stores in MMF's formats: read with ``FeatureReader``, write with ``FeatureWriter``.

Two formats, chosen from the path:
- a folder of ``<key>.npy`` (N, D) float32 + ``<key>_info.npy`` (pickled info dict);
- one LMDB (a path ending in ``.lmdb``, or a folder holding ``data.mdb``): key -> pickled dict
  with the info fields plus ``features``; the key ``keys`` lists the image keys.

Info dict fields: ``bbox`` (N, 4) x1, y1, x2, y2 in original pixels, ``num_boxes``, ``objects``
(N,) class ids, ``cls_prob`` (N,) or (N, C), ``image_width``, ``image_height``. Pickles load
through the restricted unpickler (``mmf_imgtune.utils.safe_pickle``) unless
``allow_unsafe_pickle=True``. Example::

    reader = FeatureReader("features/train.lmdb", max_features=36)
    image_feature_0, image_info_0 = reader.read("COCO_train2014_000000000009")
"""

from __future__ import annotations

import errno
import os

import lmdb
import numpy as np
import torch

from mmf_imgtune.errors import DataError, MMFImgtuneError
from mmf_imgtune.io.features.info import boxes_to_5d, pad_region_sample
from mmf_imgtune.io.features.lmdb_store import LmdbFeatureStore
from mmf_imgtune.io.features.npy_store import NpyFeatureStore
from mmf_imgtune.utils.safe_pickle import UnsafePickleError

FORMATS = ("npy", "lmdb")


class FeatureFileError(DataError):
    """A feature file (or LMDB value) is unreadable or malformed; names the path and key."""


class FeatureWriteError(MMFImgtuneError, OSError):
    """Writing features failed (disk full); the keys written before are intact."""


def _out_of_space(error: BaseException) -> bool:
    return isinstance(error, (lmdb.MapFullError, lmdb.DiskError)) or (
        isinstance(error, OSError) and error.errno == errno.ENOSPC
    )


def is_lmdb_path(path: str) -> bool:
    """An LMDB is a ``*.lmdb`` path, a folder holding ``data.mdb``, or a single file."""
    path = str(path).rstrip("/")
    if path.endswith(".lmdb") or os.path.isfile(os.path.join(path, "data.mdb")):
        return True
    return os.path.isfile(path)


class FeatureReader:
    """Reads MMF region features, padded/truncated to ``max_features`` rows.

    Args:
        path: a folder of ``.npy`` files or an LMDB (see module docstring).
        max_features: rows of ``image_feature_0`` after zero-padding/truncation.
        allow_unsafe_pickle: load info pickles without restriction (trusted files only).
    """

    def __init__(self, path: str, max_features: int, allow_unsafe_pickle: bool = False):
        if max_features < 1:
            raise ValueError(f"max_features must be >= 1, got {max_features} (for {path})")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"feature path {path} does not exist: give a folder of .npy files or a *.lmdb "
                "(extract one with mmf_imgtune_extract --images DIR --output PATH)"
            )
        self.path = str(path)
        self.max_features = max_features
        self.format = "lmdb" if is_lmdb_path(path) else "npy"
        store = LmdbFeatureStore if self.format == "lmdb" else NpyFeatureStore
        self.store = store(self.path, allow_unsafe_pickle=allow_unsafe_pickle)
        # Width of the first key read: a store mixing extractions (2048-d and 1024-d keys)
        # is reported at the odd key, not as a shape error deep in a batch.
        self.feature_dim: int | None = None

    def has(self, key: str) -> bool:
        return self.store.has(key)

    def keys(self) -> list[str]:
        return self.store.keys()

    def extraction_record(self) -> dict | None:
        """How the store was made (``provenance.py``); None for stores written without one."""
        return self.store.read_record()

    def load_raw(self, key: str) -> tuple[np.ndarray, dict]:
        """The stored (features (N, D), info dict), without padding."""
        return self.store.load(key)

    def read(self, key: str) -> tuple[torch.Tensor, dict]:
        """Returns ``image_feature_0`` (max_features, D) float32 and ``image_info_0``.

        ``image_info_0``: ``bbox`` (max_features, 4) float32 original pixels x1, y1, x2, y2;
        ``boxes_5d`` (max_features, 5); ``num_boxes`` long scalar (true count after
        truncation); ``max_features`` int (MMF's meaning: the true count); ``objects``
        (max_features,) long; ``cls_prob`` (max_features,) float; ``image_width``,
        ``image_height`` int. Padded rows are zeros.
        """
        source = f"{self.path}:{key}"
        malformed = (TypeError, ValueError, IndexError, KeyError, AttributeError)
        try:
            features, info = self.store.load(key)
        except UnsafePickleError as error:
            raise UnsafePickleError(
                f"{error} (FeatureReader loads pickles safely by default; pass "
                "allow_unsafe_pickle=True only for feature files you trust.)"
            ) from None
        except (DataError, KeyError):  # KeyError: no such key (callers check has())
            raise
        except malformed as error:
            raise FeatureFileError(f"{source}: unreadable region features ({error})") from None
        try:
            padded, padded_info = pad_region_sample(features, info, self.max_features, source)
        except malformed as error:
            # Wrong shapes, types or missing fields in an untrusted file.
            raise FeatureFileError(f"{source}: malformed region features ({error})") from None
        width = int(padded.shape[-1])
        if self.feature_dim is None:
            self.feature_dim = width
        elif width != self.feature_dim:
            raise FeatureFileError(
                f"{source}: {width}-d features, but the keys read before from this store are "
                f"{self.feature_dim}-d; it mixes two extractions. Re-extract into a fresh path"
            )
        return padded, padded_info


class FeatureWriter:
    """Writes region features in MMF's formats; atomic and resumable.

    Args:
        path: output folder (``npy``) or LMDB path (``lmdb``).
        format: ``"npy"`` or ``"lmdb"``.
        fsync: fsync every file before its atomic rename (npy); off is faster and still
            never leaves a half-written file after a crash of the process.
    """

    def __init__(self, path: str, format: str = "npy", fsync: bool = True):
        if format not in FORMATS:
            raise ValueError(f"unknown feature format {format!r}; choose one of {FORMATS}")
        self.path = str(path)
        self.format = format
        if format == "lmdb":
            self.store = LmdbFeatureStore(self.path)
        else:
            self.store = NpyFeatureStore(self.path, fsync=fsync)
        self.store.open_for_writing()

    def exists(self, key: str) -> bool:
        """True when ``key`` is completely written (a re-run skips it)."""
        return self.store.has(key)

    def keys(self) -> list[str]:
        return self.store.keys()

    def read_record(self) -> dict | None:
        """The store's extraction record (``provenance.py``), None when it has none."""
        return self.store.read_record()

    def write_record(self, record: dict) -> None:
        """Replace the store's extraction record (written at once, before any image)."""
        self._guarded(None, lambda: self.store.write_record(record))

    def write(self, key: str, features: np.ndarray, info: dict) -> None:
        """Store one image.

        Args:
            key: image key (file stem, may contain ``/``).
            features: (N, D) region features (stored as float32).
            info: ``bbox`` (N, 4) pixels, ``image_width``, ``image_height``; optional
                ``objects`` (N,), ``cls_prob`` (N,) or (N, C); ``num_boxes`` is set to N.
        """
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2:
            raise ValueError(f"{key}: features must be (num_boxes, dim), got {features.shape}")
        count = features.shape[0]
        bbox = np.asarray(info.get("bbox"), dtype=np.float32)
        if bbox.shape != (count, 4):
            raise ValueError(f"{key}: info['bbox'] must be ({count}, 4), got {bbox.shape}")
        for field in ("image_width", "image_height"):
            if field not in info:
                raise ValueError(f"{key}: info needs '{field}' (pixels) for MMF's box geometry")
        record = dict(info)
        record.update(
            bbox=bbox,
            num_boxes=int(count),
            objects=np.asarray(info.get("objects", np.zeros(count)), dtype=np.int64),
            cls_prob=np.asarray(info.get("cls_prob", np.zeros(count)), dtype=np.float32),
            image_width=int(info["image_width"]),
            image_height=int(info["image_height"]),
        )
        self._guarded(key, lambda: self.store.write(key, features, record))

    def close(self) -> None:
        self._guarded(None, self.store.close)

    def _guarded(self, key: str | None, action) -> None:
        try:
            action()
        except Exception as error:
            if not _out_of_space(error):
                raise
            at = f" at key '{key}'" if key else ""
            raise FeatureWriteError(
                errno.ENOSPC,
                f"no space left while writing features to {self.path}{at}; the keys written "
                "before are intact. Free disk space and run again: finished keys are skipped.",
            ) from None

    def __enter__(self) -> FeatureWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["FeatureReader", "FeatureWriter", "boxes_to_5d", "is_lmdb_path", "pad_region_sample"]
