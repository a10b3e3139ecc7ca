"""One read-only LMDB environment per path and process, for MMF's feature reader.

py-lmdb 3.x refuses to open an environment a second time in one process ("already open in
this process"). MMF's ``LMDBFeatureReader`` opens its file once per dataset, so a run whose
train and val splits share one ``.lmdb`` (MMF's Hateful Memes layout) crashes when the val
loader starts with ``num_workers=0``. ``SharedLmdb`` stands in for the ``lmdb`` module inside
MMF's reader only: read-only opens share mmf_imgtune's per-process environment, everything else
goes to the real ``lmdb``.
"""

from __future__ import annotations

import types
from typing import Any

import lmdb

from mmf_imgtune.io.features.lmdb_store import _shared_read_env


class SharedLmdb(types.SimpleNamespace):
    """The ``lmdb`` module with ``open(path, readonly=True, ...)`` shared per path."""

    def __getattr__(self, name: str) -> Any:
        return getattr(lmdb, name)

    @staticmethod
    def open(path: str, readonly: bool = False, **kwargs: Any) -> lmdb.Environment:
        if readonly and not kwargs.get("lock", False):
            return _shared_read_env(str(path))
        return lmdb.open(path, readonly=readonly, **kwargs)


def patch_mmf_feature_reader() -> bool:
    """Point MMF's feature reader at ``SharedLmdb``. Returns False when MMF is absent."""
    try:
        from mmf.datasets.databases.readers import feature_readers
    except ImportError:
        return False
    if not isinstance(feature_readers.lmdb, SharedLmdb):
        feature_readers.lmdb = SharedLmdb()
    return True
