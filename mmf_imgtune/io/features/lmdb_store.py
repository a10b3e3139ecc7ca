"""MMF's LMDB feature format: one key per image, the value a pickled dict with ``features``.

The special key ``keys`` holds the pickled list of image keys (bytes, as MMF writes them).
Writes are buffered and committed ``commit_every`` images at a time together with the updated
``keys`` list in one LMDB transaction, so an interrupted run loses at most the uncommitted
images (a re-run redoes them) and never leaves a half-written value.
How the features were made (the extraction record, ``provenance.py``) is JSON under the key
``__mmf_imgtune_extraction__``, which ``keys`` does not list: MMF's readers never see it.
"""

from __future__ import annotations

import json
import os
import pickle

import lmdb
import numpy as np

from mmf_imgtune.io.features.npy_store import normalise_key
from mmf_imgtune.utils.safe_pickle import safe_loads

KEYS_KEY = b"keys"
RECORD_KEY = b"__mmf_imgtune_extraction__"
# LMDB reserves address space, not disk: a sparse 1 TiB map as MMF uses.
MAP_SIZE = 1 << 40


# lmdb refuses to open one environment twice in a process, and several readers (train and
# val datasets) often share a file: read-only environments are shared per process.
_READ_ENVS: dict[tuple[str, int], lmdb.Environment] = {}


def _shared_read_env(path: str) -> lmdb.Environment:
    key = (os.path.realpath(path), os.getpid())
    env = _READ_ENVS.get(key)
    if env is None:
        # A forked DataLoader worker inherits the parent's handle, and py-lmdb refuses to open
        # the same path again in "this" process until the inherited handle is closed.
        for inherited in [k for k in _READ_ENVS if k[0] == key[0] and k[1] != key[1]]:
            _READ_ENVS.pop(inherited).close()
        _READ_ENVS[key] = lmdb.open(
            path,
            subdir=os.path.isdir(path),
            readonly=True,
            lock=False,
            readahead=False,
            meminit=False,
        )
        env = _READ_ENVS[key]
    return env


def _drop_read_env(path: str) -> None:
    """Close this process's shared reader of ``path`` so a writer can open it."""
    env = _READ_ENVS.pop((os.path.realpath(path), os.getpid()), None)
    if env is not None:
        env.close()


class LmdbFeatureStore:
    """Reader and writer of one MMF feature LMDB (a ``*.lmdb`` folder or file).

    Args:
        path: the LMDB path; written as a folder holding ``data.mdb``.
        allow_unsafe_pickle: load values with plain ``pickle.loads``; only for trusted files.
        commit_every: images per write transaction.
    """

    def __init__(self, path: str, allow_unsafe_pickle: bool = False, commit_every: int = 64):
        self.path = str(path)
        self.allow_unsafe_pickle = allow_unsafe_pickle
        self.commit_every = commit_every
        self._env = None
        self._keys: list[str] | None = None
        self._key_set: set[str] = set()
        self._pending: dict[str, bytes] = {}
        self._writing = False
        self._real_path = os.path.realpath(self.path)

    def __getstate__(self) -> dict:
        # An LMDB environment must not cross a fork/spawn: each worker reopens it.
        state = dict(self.__dict__)
        state["_env"] = None
        return state

    def _loads(self, data: bytes, source: str):
        if self.allow_unsafe_pickle:
            return pickle.loads(data)
        return safe_loads(data, source)

    def _open_read(self):
        if self._writing:
            return self._env
        # Looked up every time: a writer in this process may have closed the shared reader.
        env = _READ_ENVS.get((self._real_path, os.getpid()))
        if env is None:
            if not os.path.exists(self.path):
                raise FileNotFoundError(
                    f"feature LMDB {self.path} does not exist; extract it with "
                    "mmf_imgtune_extract --format lmdb or fix the features path"
                )
            env = _shared_read_env(self.path)
        return env

    def _load_keys(self, env) -> list[str]:
        with env.begin(write=False) as txn:
            raw = txn.get(KEYS_KEY)
        if raw is None:
            return []
        keys = self._loads(raw, f"{self.path}:keys")
        return [k.decode() if isinstance(k, bytes) else str(k) for k in keys]

    # --- reading -------------------------------------------------------------------------
    def keys(self) -> list[str]:
        if self._keys is None:
            self._keys = self._load_keys(self._open_read())
            self._key_set = set(self._keys)
        return list(self._keys)

    def has(self, key: str) -> bool:
        if self._keys is None:
            self.keys()
        key = normalise_key(key)
        return key in self._key_set or key in self._pending

    def load(self, key: str) -> tuple[np.ndarray, dict]:
        key = normalise_key(key)
        with self._open_read().begin(write=False, buffers=True) as txn:
            raw = txn.get(key.encode())
            if raw is None:
                raise KeyError(
                    f"key {key!r} is not in feature LMDB {self.path}; check the key (the image "
                    "file name without .npy) or extract it with mmf_imgtune_extract"
                )
            value = self._loads(bytes(raw), f"{self.path}:{key}")
        if not isinstance(value, dict) or "features" not in value:
            raise ValueError(
                f"{self.path}:{key}: expected a dict with 'features', got {type(value).__name__}"
            )
        value = dict(value)
        return np.asarray(value.pop("features")), value

    def read_record(self) -> dict | None:
        """The extraction record, or None for stores without one (or no store yet)."""
        if not self._writing and not os.path.exists(self.path):
            return None
        with self._open_read().begin(write=False) as txn:
            raw = txn.get(RECORD_KEY)
        if raw is None:
            return None
        try:
            record = json.loads(bytes(raw).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"{self.path}: unreadable extraction record ({error})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{self.path}: the extraction record must be a JSON object")
        return record

    # --- writing -------------------------------------------------------------------------
    def write_record(self, record: dict) -> None:
        """Store the record now, in its own transaction (before the first image is written)."""
        if not self._writing:
            raise RuntimeError(f"{self.path}: call open_for_writing() before write_record()")
        data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
        with self._env.begin(write=True) as txn:
            txn.put(RECORD_KEY, data)

    def open_for_writing(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        _drop_read_env(self.path)
        self._env = lmdb.open(self.path, subdir=True, map_size=MAP_SIZE)
        self._writing = True
        self._keys = self._load_keys(self._env)
        self._key_set = set(self._keys)

    def write(self, key: str, features: np.ndarray, info: dict) -> None:
        if not self._writing:
            raise RuntimeError(f"{self.path}: call open_for_writing() before write()")
        key = normalise_key(key)
        value = dict(info, features=features)
        self._pending[key] = pickle.dumps(value, protocol=4)
        if len(self._pending) >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        new = [k for k in self._pending if k not in self._key_set]
        keys = self._keys + new
        with self._env.begin(write=True) as txn:
            for key, data in self._pending.items():
                txn.put(key.encode(), data)
            txn.put(KEYS_KEY, pickle.dumps([k.encode() for k in keys], protocol=4))
        self._keys = keys
        self._key_set.update(new)
        self._pending = {}

    def close(self) -> None:
        if self._writing:
            try:
                self.flush()
                self._env.sync()
            finally:  # even when the last commit fails (disk full): release the environment
                self._pending = {}
                self._env.close()
                self._env = None
                self._writing = False
