"""Default-config files for MMF: absolute paths, and dataset yamls under MMF's names.

MMF loads ``config_path()`` relative to the working directory, ``env.user_dir`` or its own
root, so our classes hand it absolute paths. A builder registered in MMF under another name
(``imgtune_hateful_memes`` for our ``hateful_memes``) needs its defaults under
``dataset_config.<mmf name>``: ``rekeyed_dataset_yaml`` writes that copy (once per content)
into a cache folder and returns its path. No MMF import needed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[1]


def absolute_config_path(path: str | os.PathLike | None) -> str | None:
    """``path`` made absolute against mmf_imgtune's repository root (absolute paths pass)."""
    if path is None:
        return None
    path = Path(path)
    resolved = path if path.is_absolute() else REPO_ROOT / path
    if not resolved.is_file():
        raise FileNotFoundError(
            f"default config '{path}' not found at {resolved}; install mmf_imgtune from its "
            "repository checkout (pip install -e .) so configs/ sits beside the package"
        )
    return str(resolved)


def cache_dir() -> Path:
    """Where re-keyed yamls go: ``$MMF_IMGTUNE_CONFIG_CACHE`` or the temp folder."""
    root = os.environ.get("MMF_IMGTUNE_CONFIG_CACHE") or os.path.join(
        tempfile.gettempdir(), f"mmf_imgtune_mmf-{os.getuid() if hasattr(os, 'getuid') else 0}"
    )
    return Path(root)


def rekeyed_dataset_yaml(path: str | os.PathLike, ours: str, theirs: str) -> str:
    """Our dataset defaults yaml with ``dataset_config.<ours>`` renamed ``<theirs>``.

    Args:
        path: our defaults yaml (repo-relative or absolute).
        ours: the name in our registry (``hateful_memes``); theirs: MMF's (``imgtune_hateful_memes``).
    Returns:
        The absolute path of the re-keyed copy (written only when missing or changed).
    """
    source = absolute_config_path(path)
    config = OmegaConf.load(source)
    if ours not in (config.get("dataset_config") or {}):
        raise KeyError(f"{source} has no dataset_config.{ours} to expose as '{theirs}'")
    config.dataset_config = {theirs: config.dataset_config[ours]}
    text = OmegaConf.to_yaml(config)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    target = cache_dir() / f"{theirs}-{digest}.yaml"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)  # atomic: concurrent workers never read half a file
    return str(target)
