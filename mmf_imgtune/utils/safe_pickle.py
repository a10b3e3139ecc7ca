"""A restricted unpickler for MMF's pickled feature info, LMDB values and imdb files.

Those files are pickles, and a pickle can run any code when loaded. This loader accepts only
numpy arrays/dtypes and plain Python values (dict, list, tuple, str, numbers, bytes, None);
anything else raises ``UnsafePickleError`` naming the refused global.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from mmf_imgtune.errors import DataError

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
}
# numpy scalar/array dtypes are pickled as numpy.dtypes.<Name>DType in numpy 2.
_ALLOWED_MODULE_PREFIXES = ("numpy.dtypes",)


class UnsafePickleError(DataError, pickle.UnpicklingError):
    """Raised when a pickle asks for anything but arrays and plain values."""


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str = "<bytes>"):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or module.startswith(_ALLOWED_MODULE_PREFIXES):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.source}: refused to unpickle '{module}.{name}': only numpy arrays and plain "
            "Python values are loaded from feature/annotation pickles, since a pickle can run "
            "code. Re-save the file with plain dicts and arrays."
        )


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` allowing only arrays and plain values; any failure is a DataError."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # truncated or corrupt bytes raise anything from EOFError up
        raise UnsafePickleError(f"{source}: not a readable pickle ({error!r:.200})") from None


def safe_load_npy(path: str) -> Any:
    """``np.load(path, allow_pickle=True)`` through the restricted unpickler.

    Returns the array, or for a 0-d object array (MMF's ``_info.npy``) the object inside.
    Raises ``UnsafePickleError`` (a ``DataError``) for refused globals and ``DataError`` for
    files that are not readable .npy at all.
    """
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                _, _, dtype = np.lib.format.read_array_header_2_0(handle)
            if not dtype.hasobject:
                handle.seek(0)
                return np.load(handle, allow_pickle=False)
            array = RestrictedUnpickler(handle, path).load()
    except DataError:
        raise
    except OSError:
        raise
    except Exception as error:  # bad magic, header, truncated data or pickle
        raise DataError(f"{path}: not a readable .npy file ({error!r:.200})") from None
    if isinstance(array, np.ndarray) and array.dtype.hasobject and array.shape == ():
        return array.item()
    return array
