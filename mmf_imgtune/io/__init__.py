"""The bottom layer: file formats and atomic writes, shared by ``data`` and ``regions``.

- ``atomic``: the one atomic-write helper (temporary file, fsync, rename).
- ``annotations``: MMF's annotation files (.jsonl, .json, .npy imdb) and plain text lists.
- ``features``: MMF's region-feature stores (npy folder, LMDB), readers, writers and the
  extraction record each store keeps.

Nothing here imports ``data``, ``regions``, ``models`` or ``trainer``.
"""
