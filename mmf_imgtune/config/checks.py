"""Config validation: unknown keys and wrong types fail early, naming the key and the fix."""

from __future__ import annotations

import difflib
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from mmf_imgtune.errors import MMFImgtuneError

# Sections the runtime owns: a config file may only set keys that exist in defaults.yaml.
RUNTIME_SECTIONS = ("training", "optimizer", "scheduler", "evaluation", "checkpoint", "env")
# Nodes that are keyword arguments passed through to a constructor (``params``, or an inline
# Hugging Face ``config``): any key is accepted.
OPEN_NODES = ("params", "config")
# Keys whose default is a number but which take other values too.
ANY_TYPE_KEYS = ("training.devices",)  # Lightning's: 2, "auto", or a list of device ids
NULLABLE_KEYS = ("training.max_updates",)  # null: train for training.max_epochs instead


class ConfigError(MMFImgtuneError, ValueError):
    """A config problem; the message names the key or file and what to type instead."""


def flat_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config (nodes and leaves)."""
    keys: list[str] = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            dotted = f"{prefix}{key}"
            keys.append(dotted)
            child = node._get_node(key)
            if isinstance(child, DictConfig):
                keys += flat_keys(child, dotted + ".")
    return keys


def nearest_keys(config: DictConfig, key: str, n: int = 3) -> list[str]:
    keys = flat_keys(config)
    close = difflib.get_close_matches(key, keys, n=n, cutoff=0.6)
    if not close:  # also try the last part alone: 'training.max_update' -> 'max_updates'
        leaf = key.rsplit(".", 1)[-1]
        by_leaf = {k.rsplit(".", 1)[-1]: k for k in keys}
        close = [by_leaf[m] for m in difflib.get_close_matches(leaf, list(by_leaf), n=n)]
    return close


def _exists(config: DictConfig, key: str) -> bool:
    node: Any = config
    parts = key.split(".")
    for index, part in enumerate(parts):
        if isinstance(node, DictConfig):
            if part not in node:
                # New keys are fine inside open nodes (constructor kwargs).
                return parts[index - 1] in OPEN_NODES if index else False
            node = node._get_node(part)
        elif isinstance(node, ListConfig):
            if not part.isdigit() or int(part) >= len(node):
                return False
            node = node._get_node(int(part))
        else:
            return False
    return True


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_type(key: str, old: Any, new: Any, where: str) -> None:
    """A scalar keeps its type: a whole number stays whole (``1e3`` is fine, ``1.5`` is not
    where an int is expected), floats take ints; a null or missing old value takes anything,
    a number does not become null (except ``NULLABLE_KEYS``)."""
    if old is None or isinstance(old, (DictConfig, ListConfig, dict, list)):
        return
    if key in ANY_TYPE_KEYS or (new is None and key in NULLABLE_KEYS):
        return
    if new is None:
        if isinstance(old, (int, float)) and not isinstance(old, bool):
            raise ConfigError(f"{where}: '{key}' must be a number (like {old!r}), got null")
        return
    if isinstance(old, bool) != isinstance(new, bool):
        if not (isinstance(old, bool) and isinstance(new, bool)):
            raise ConfigError(
                f"{where}: '{key}' must be a {_type_name(old)} (like {old!r}), got {new!r}"
            )
    numeric = (int, float)
    if isinstance(old, numeric) and not isinstance(old, bool):
        if not isinstance(new, numeric) or isinstance(new, bool):
            raise ConfigError(f"{where}: '{key}' must be a number (like {old!r}), got {new!r}")
        if isinstance(old, int) and isinstance(new, float) and not new.is_integer():
            raise ConfigError(
                f"{where}: '{key}' must be a whole number (like {old!r}), got {new!r}"
            )


def check_override(config: DictConfig, key: str, value: str) -> None:
    """Refuse a command-line override of a key that exists nowhere, with suggestions."""
    if key in ("model", "datasets", "run_type"):
        return
    if not _exists(config, key):
        suggestions = nearest_keys(config, key)
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise ConfigError(
            f"unknown config key '{key}' (from the override {key}={value}).{hint} "
            "Keys must exist in the runtime, model or dataset defaults or the config= file."
        )
    old = OmegaConf.select(config, key, throw_on_resolution_failure=False)
    parsed = OmegaConf.from_dotlist([f"x={value}"])
    if OmegaConf.is_interpolation(parsed, "x"):
        return  # checked when the config is resolved
    check_type(key, old, parsed.x, "command line")


def check_file_keys(defaults: DictConfig, file_config: DictConfig, path: str) -> None:
    """In a config file, the runtime's own sections accept only keys the defaults know."""
    for key in file_config.keys():
        if key in ("model_config", "dataset_config", "model", "datasets"):
            continue
        if key not in defaults:
            close = difflib.get_close_matches(str(key), [str(k) for k in defaults.keys()], n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(f"{path}: unknown top-level key '{key}'.{hint}")
    for section in RUNTIME_SECTIONS:
        if section in file_config:
            _check_section(defaults[section], file_config[section], section, path)


def check_file_types(config: DictConfig, file_config: DictConfig, path: str) -> None:
    """In a config file, ``model_config``/``dataset_config`` keys that the component defaults
    know keep their types (new keys are allowed there: plugins read their own)."""
    for section in ("model_config", "dataset_config"):
        if section in file_config and section in config:
            _check_section(config[section], file_config[section], section, path, new_ok=True)


def _check_section(default: Any, given: Any, prefix: str, path: str, new_ok: bool = False) -> None:
    if not isinstance(given, DictConfig) or not isinstance(default, DictConfig):
        return
    for key in given.keys():
        dotted = f"{prefix}.{key}"
        if key not in default:
            if new_ok or prefix.rsplit(".", 1)[-1] in OPEN_NODES:
                continue
            close = difflib.get_close_matches(str(key), [str(k) for k in default.keys()], n=3)
            hint = f" Did you mean: {', '.join(f'{prefix}.{c}' for c in close)}?" if close else ""
            raise ConfigError(f"{path}: unknown key '{dotted}'.{hint}")
        old = default._get_node(key)
        new = given._get_node(key)
        if isinstance(old, DictConfig):
            _check_section(old, new, dotted, path, new_ok)
        elif not OmegaConf.is_interpolation(given, key) and not OmegaConf.is_interpolation(
            default, key
        ):
            check_type(dotted, old._value(), new._value() if hasattr(new, "_value") else new, path)
