"""Import a user plugin folder or module (``env.user_dir`` / ``MMF_USER_DIR``).

The folder's ``__init__.py`` imports the modules that register its classes. Only that package
is imported: its parent folder is not put on ``sys.path``, so files next to it (a stray
``json.py``, other projects) can neither be imported nor shadow real modules. The variable
``MMF_USER_DIR`` is set as a side effect so that DataLoader workers, spawned processes and
DDP processes started from this one import the same plugin (see ``worker_init``).
"""

from __future__ import annotations

import importlib
import importlib.util
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
        module = _import_package(folder)
    else:
        module = importlib.import_module(user_dir)
    _IMPORTED[user_dir] = module
    os.environ["MMF_USER_DIR"] = os.path.abspath(user_dir) if os.path.isdir(user_dir) else user_dir
    return module


def _import_package(folder: str) -> ModuleType:
    """Import the package at ``folder`` under its folder name, touching nothing else."""
    name = os.path.basename(folder)
    existing = sys.modules.get(name)
    if existing is not None:
        if os.path.dirname(os.path.abspath(getattr(existing, "__file__", "") or "")) == folder:
            return existing
        raise ImportError(
            f"env.user_dir '{folder}': a module named '{name}' is already imported from "
            f"{getattr(existing, '__file__', None) or 'elsewhere'}; rename the plugin folder"
        )
    init = os.path.join(folder, "__init__.py")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: the package's own relative imports need it
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: makes plugins exist in spawned workers too."""
    import_user_dir(os.environ.get("MMF_USER_DIR"))
