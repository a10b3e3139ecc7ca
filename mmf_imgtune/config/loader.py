"""Build a run's config the MMF way.

Merge order, lowest first: ``configs/defaults.yaml`` < the model's ``config_path()`` < each
dataset builder's ``config_path()`` < the ``config=`` file < command-line ``a.b=value``
overrides. Any yaml may start with ``includes: [a.yaml, ...]``, merged in order below the
file's own keys; include paths resolve against the including file's folder, then the
repository root, then the working directory.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mmf_imgtune.config.checks import (
    ConfigError,
    check_file_keys,
    check_file_types,
    check_override,
)
from mmf_imgtune.config.deprecated import rename_deprecated_keys, rename_deprecated_override
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.registry import registry
from mmf_imgtune.utils.user_dir import import_user_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = REPO_ROOT / "configs" / "defaults.yaml"
# Options of the command line that are not dotted config keys.
CLI_OPTIONS = ("config", "model", "dataset", "datasets", "run_type")


def resolve_path(path: str, relative_to: str | Path | None = None) -> Path:
    """Find a config file: absolute, next to ``relative_to``, the repo root, or the cwd."""
    candidates = [Path(path)] if os.path.isabs(path) else []
    if not candidates:
        if relative_to is not None:
            candidates.append(Path(relative_to) / path)
        candidates += [REPO_ROOT / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"config file '{path}' not found (looked at: {tried})")


def load_yaml(path: str | Path, _stack: tuple[Path, ...] = ()) -> DictConfig:
    """Load a yaml (safe loading through OmegaConf) with its ``includes`` merged below it."""
    path = Path(path).resolve()
    if path in _stack:
        chain = " -> ".join(str(p) for p in (*_stack, path))
        raise ConfigError(f"includes form a cycle: {chain}")
    try:
        own = OmegaConf.load(path)
    except Exception as error:
        raise ConfigError(f"{path}: cannot parse yaml ({error})") from None
    if not isinstance(own, DictConfig):
        raise ConfigError(f"{path}: a config file must hold a mapping at the top level")
    rename_deprecated_keys(own, str(path))
    includes = own.pop("includes", None) or []
    if isinstance(includes, str):
        includes = [includes]
    merged = OmegaConf.create()
    for include in includes:
        included = load_yaml(resolve_path(include, path.parent), (*_stack, path))
        merged = merge(merged, included)
    return merge(merged, own)


def merge(base: DictConfig, *layers: Any) -> DictConfig:
    """``OmegaConf.merge`` of config layers (lowest first), except for inline HF configs.

    An inline Hugging Face config (a node named ``config`` that sets ``model_type``) is one
    architecture, written whole: a layer that gives one replaces the node below it instead of
    being merged key by key (a GPT-2 ``lm.config`` over the Llama defaults must not keep their
    ``hidden_size`` and ``max_position_embeddings``). A ``config`` without ``model_type``
    still changes single keys of the one below.
    """
    for layer in layers:
        layer = layer if isinstance(layer, DictConfig) else OmegaConf.create(layer)
        replaced = _replaced_configs(base, layer)
        if replaced:
            base = copy.deepcopy(base)  # the caller's config stays as it was
            for parent, key in _walk_to(base, replaced):
                del parent[key]
        base = OmegaConf.merge(base, layer)
    return base


def _replaced_configs(base: Any, layer: DictConfig, prefix: tuple = ()) -> list[tuple]:
    """Key paths of the inline HF configs of ``layer`` that replace a node of ``base``."""
    found = []
    for key in layer.keys():
        child = layer._get_node(key)
        if not isinstance(child, DictConfig) or not isinstance(base, DictConfig):
            continue
        if key not in base or not isinstance(base._get_node(key), DictConfig):
            continue
        if key == "config" and "model_type" in child:
            found.append((*prefix, key))
        else:
            found += _replaced_configs(base._get_node(key), child, (*prefix, key))
    return found


def _walk_to(config: DictConfig, paths: list[tuple]) -> list[tuple[DictConfig, str]]:
    targets = []
    for path in paths:
        node = config
        for part in path[:-1]:
            node = node._get_node(part)
        targets.append((node, path[-1]))
    return targets


def split_cli(args: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``key=value`` arguments into the run options and dotted overrides."""
    options: dict[str, str] = {}
    overrides: list[str] = []
    for arg in args:
        if "=" not in arg:
            raise ConfigError(
                f"argument '{arg}' is not key=value; try e.g. config=projects/.../x.yaml "
                "model=imgtune dataset=shapes training.max_updates=100"
            )
        key, value = arg.split("=", 1)
        key = key.lstrip("-")
        if key in CLI_OPTIONS:
            options[key] = value
        else:
            overrides.append(f"{key}={value}")
    return options, overrides


def _component_defaults(config_path: str | None) -> DictConfig:
    if not config_path:
        return OmegaConf.create()
    return load_yaml(resolve_path(config_path))


def _user_dir_from(overrides: list[str]) -> str | None:
    for override in overrides:
        if override.startswith("env.user_dir="):
            return override.split("=", 1)[1]
    return os.environ.get("MMF_USER_DIR") or None


def build_config(args: Iterable[str] = (), **options: Any) -> DictConfig:
    """The merged, validated and resolved config of a run.

    Args:
        args: command-line words, e.g. ``["config=x.yaml", "model=imgtune", "a.b=1"]``.
        options: the same options as keywords (``config=``, ``model=``, ``dataset=``, ...).
    """
    cli_options, overrides = split_cli(args)
    cli_options.update({k: v for k, v in options.items() if v is not None})
    # Built-ins are registered: the package's __init__ runs before any of its modules, this
    # one included. Plugins register here, before their classes' defaults are looked up.
    import_user_dir(_user_dir_from(overrides))

    config = load_yaml(DEFAULTS)
    file_config = None
    if cli_options.get("config"):
        file_path = resolve_path(cli_options["config"])
        file_config = load_yaml(file_path)
        check_file_keys(config, file_config, str(file_path))
    # model=/dataset= may also come from the config file itself.
    model = cli_options.get("model") or (file_config or {}).get("model") or None
    datasets = cli_options.get("datasets") or cli_options.get("dataset")
    if datasets:
        dataset_names = [d.strip() for d in str(datasets).split(",") if d.strip()]
    else:
        dataset_names = list((file_config or {}).get("datasets") or [])
    if model:
        config = merge(config, _component_defaults(registry.get_model_class(model).config_path()))
    for name in dataset_names:
        builder = registry.get_builder_class(name)
        config = merge(config, _component_defaults(builder.config_path()))
    if file_config is not None:
        check_file_types(config, file_config, str(file_path))
        config = merge(config, file_config)
    config.model = model
    config.datasets = dataset_names
    if cli_options.get("run_type"):
        config.run_type = cli_options["run_type"]
    for override in overrides:
        key, value = override.split("=", 1)
        key = rename_deprecated_override(key)
        check_override(config, key, value)
        parsed = OmegaConf.from_dotlist([f"{key}={value}"])
        config = merge(config, parsed)
    _check_ready(config)
    _resolve(config, cli_options.get("config"))
    return config


def _resolve(config: DictConfig, file_path: str | None) -> None:
    """Resolve ``${...}`` interpolations; a bad one fails naming its key. Only registered
    resolvers run (``oc.env``, ``package_dir``, ...): a config string is never evaluated."""
    try:
        OmegaConf.resolve(config)
    except OmegaConfBaseException as error:
        cause = error
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:  # a resolver's own one-line message (resolvers.py)
            raise cause from None
        key = getattr(error, "full_key", None) or "?"
        message = str(error).splitlines()[0]
        where = f" (in {file_path} or the overrides)" if file_path else ""
        raise ConfigError(f"config key '{key}'{where}: {message}") from None


def _check_ready(config: DictConfig) -> None:
    if not config.model:
        raise ConfigError(
            f"no model chosen: add model=<name>. Registered models: {', '.join(registry.names('model'))}"
        )
    if not config.datasets:
        raise ConfigError(
            "no dataset chosen: add dataset=<name>[,<name>]. Registered datasets: "
            f"{', '.join(registry.names('builder'))}"
        )
    if config.model not in config.model_config:
        raise ConfigError(
            f"model_config.{config.model} is missing: the model's config_path() yaml or your "
            "config file must define it"
        )
    for name in config.datasets:
        if name not in config.dataset_config:
            raise ConfigError(
                f"dataset_config.{name} is missing: the builder's yaml must define it"
            )


def save_config(config: DictConfig, folder: str | os.PathLike) -> Path:
    """Write the resolved config as ``<folder>/config.yaml`` (every run keeps one)."""
    return atomic_write(Path(folder) / "config.yaml", OmegaConf.to_yaml(config, resolve=True))


def to_container(node: Any) -> Any:
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node
