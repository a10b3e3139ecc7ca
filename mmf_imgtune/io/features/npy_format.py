"""A fast reader of the ``.npy`` files feature folders hold (plain arrays and pickled dicts).

``np.load`` parses every header with ``ast.literal_eval``; for the two small files read per
sample that parse costs as much as the data. Headers that ``np.save`` writes for C-ordered
arrays are matched by a regex instead (anything else falls back to numpy), and object arrays
(``_info.npy``) are unpickled through the restricted unpickler unless the caller trusts the file.
"""

from __future__ import annotations

import io
import pickle
import re

import numpy as np

from mmf_imgtune.utils.safe_pickle import RestrictedUnpickler, UnsafePickleError, safe_load_npy

_MAGIC = b"\x93NUMPY"
_HEADER = re.compile(
    r"\{'descr': '([<>|=]?\w+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}"
)


def read_npy(path: str, allow_unsafe_pickle: bool = False):
    """The array in ``path``; for a 0-d object array (MMF's ``_info.npy``) the object inside.

    Raises ``FileNotFoundError`` when missing and ``UnsafePickleError`` when a pickle asks for
    anything but arrays and plain values (unless ``allow_unsafe_pickle``).
    """
    with open(path, "rb") as handle:
        data = handle.read()
    match = None
    if data[:6] == _MAGIC and data[6] in (1, 2):
        start = 10 if data[6] == 1 else 12
        length = int.from_bytes(data[8:start], "little")
        match = _HEADER.match(data[start : start + length].decode("latin1"))
    if match is None:  # unusual header (Fortran order, structured dtype...): let numpy parse
        if allow_unsafe_pickle:
            value = np.load(io.BytesIO(data), allow_pickle=True)
            return value.item() if value.dtype.hasobject and value.shape == () else value
        return safe_load_npy(path)
    descr, offset = match.group(1), start + length
    shape = tuple(int(v) for v in match.group(2).split(",") if v.strip())
    if descr != "|O":
        return np.frombuffer(data, dtype=descr, count=int(np.prod(shape)), offset=offset).reshape(
            shape
        )
    payload = io.BytesIO(data[offset:])
    try:
        if allow_unsafe_pickle:
            array = pickle.load(payload)
        else:
            array = RestrictedUnpickler(payload, path).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # truncated/corrupt pickles
        raise UnsafePickleError(f"{path}: not a readable pickle ({error})") from None
    if isinstance(array, np.ndarray) and array.dtype.hasobject and array.shape == ():
        return array.item()
    return array
