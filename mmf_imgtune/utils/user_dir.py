"""Import a user plugin folder or module (``env.user_dir`` / ``MMF_USER_DIR``).

The folder's ``__init__.py`` imports the modules that register its classes. The variable
``MMF_USER_DIR`` is set as a side effect so that DataLoader workers, spawned processes and
DDP processes started from this one import the same plugin (see ``worker_init``).
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

_IMPORTED: dict[str, ModuleType] = {}


def import_user_dir(user_dir: str | None) -> ModuleType | None:
    """Import ``user_dir`` (a folder path or a dotted module name) once per process."""
    if not user_dir:
        return None
    user_dir = str(user_dir)
    if user_dir in _IMPORTED:
        return _IMPORTED[user_dir]
    if os.path.sep in user_dir or os.path.isdir(user_dir):
        folder = os.path.abspath(os.path.expanduser(user_dir))
        if not os.path.isfile(os.path.join(folder, "__init__.py")):
            raise FileNotFoundError(
                f"env.user_dir '{user_dir}' must be a package folder with an __init__.py that "
                "imports your plugin modules"
            )
        parent, name = os.path.split(folder)
        if parent not in sys.path:
            sys.path.insert(0, parent)
        module_name = name
    else:
        module_name = user_dir
    module = importlib.import_module(module_name)
    _IMPORTED[user_dir] = module
    os.environ["MMF_USER_DIR"] = os.path.abspath(user_dir) if os.path.isdir(user_dir) else user_dir
    return module


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: makes plugins exist in spawned workers too."""
    import_user_dir(os.environ.get("MMF_USER_DIR"))
