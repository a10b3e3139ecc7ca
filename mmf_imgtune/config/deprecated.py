"""Config keys that were renamed: the old name is still read, with a deprecation note.

Every yaml the loader reads (``load_yaml``: defaults, includes, the ``config=`` file), every
command-line override and every saved run config opened by ``load_run`` goes through here,
so an old experiment file or run folder keeps working while its user is told the new name.

- ``dataset_config.<dataset>.feature_extraction`` -> ``dataset_config.<dataset>.extract``:
  every builder's region extraction section has one name (``shapes`` had its own).
"""

from __future__ import annotations

import warnings

from omegaconf import DictConfig

from mmf_imgtune.config.checks import ConfigError

# (old, new) name of a section inside every dataset_config.<dataset>.
DATASET_SECTIONS = (("feature_extraction", "extract"),)


def _note(old: str, new: str, where: str) -> None:
    warnings.warn(
        f"{where}: {old} is deprecated, it is read as {new}; rename it there",
        FutureWarning,
        stacklevel=3,
    )


def rename_deprecated_keys(config: DictConfig, where: str) -> DictConfig:
    """Move every deprecated key of ``config`` (a whole or partial run config) to its new
    name, in place; ``where`` (a file name) goes into the note. A config with both names
    is ambiguous and raises.

    Returns:
        ``config``.
    """
    datasets = config.get("dataset_config") if isinstance(config, DictConfig) else None
    if not isinstance(datasets, DictConfig):
        return config
    for name in list(datasets.keys()):
        node = datasets._get_node(name)
        if not isinstance(node, DictConfig):
            continue
        for old, new in DATASET_SECTIONS:
            if old not in node:
                continue
            if new in node:
                raise ConfigError(
                    f"{where}: dataset_config.{name} sets both {old} (deprecated) and {new}; "
                    f"keep only {new}"
                )
            _note(f"dataset_config.{name}.{old}", f"dataset_config.{name}.{new}", where)
            node[new] = node.pop(old)
    return config


def rename_deprecated_override(key: str) -> str:
    """The current name of a dotted command-line key (``a.b.c=value``'s ``a.b.c``)."""
    parts = key.split(".")
    for old, new in DATASET_SECTIONS:
        if len(parts) >= 3 and parts[0] == "dataset_config" and parts[2] == old:
            renamed = ".".join([*parts[:2], new, *parts[3:]])
            _note(key, renamed, "the command line")
            return renamed
    return key
