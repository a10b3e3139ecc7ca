"""``load_run``: the one way to open a finished ``mmf_run`` (``mmf_predict``, generation,
explanation, chat).

A run's save folder holds the resolved ``config.yaml`` and its checkpoints (``best.ckpt``,
``current.ckpt``, ``models/model_<N>.ckpt``; each a file, or a folder of shards with
``training.strategy=fsdp``). ``load_run`` reads the config, imports its ``env.user_dir``
plugin, builds the model, loads the weights and puts it in eval mode; the data set's
processors are built on first use. ``mmf_predict`` (a test-only ``mmf_run``) opens its
checkpoint through it too, with the command line's composed config instead of the saved one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from mmf_imgtune.config.deprecated import rename_deprecated_keys
from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.registry import registry
from mmf_imgtune.trainer.checkpoint_io import consolidate, is_sharded_checkpoint, safe_torch_load
from mmf_imgtune.utils.user_dir import import_user_dir

# Looked for in this order when only a save folder is given: the best model first.
DEFAULT_CHECKPOINTS = ("best.ckpt", "current.ckpt")


class RunLoadError(MMFImgtuneError, FileNotFoundError):
    """A run folder, its config.yaml or its checkpoint is missing; the message names it."""


class MissingConfigError(RunLoadError):
    """A checkpoint outside its run folder: no config.yaml next to it or one folder up."""


@dataclass
class LoadedRun:
    """A finished run, ready for inference.

    Fields:
        config: the run's resolved config (``<save_dir>/config.yaml``).
        model: the built model with the checkpoint's weights, on ``device``, in eval mode.
        save_dir: the run's folder (the one holding config.yaml).
        checkpoint: the checkpoint file (or sharded folder) the weights came from.
        user_dir: the imported ``env.user_dir`` plugin module, or None.
    """

    config: DictConfig
    model: torch.nn.Module
    save_dir: Path
    checkpoint: Path
    user_dir: ModuleType | None = None
    _processors: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def dataset(self) -> str:
        """The run's first data set (the one inference formats its inputs for)."""
        return str(self.config.datasets[0])

    def processor(self, kind: str) -> Any | None:
        """The first data set's processor of registered type ``kind`` (built once), or None."""
        if kind not in self._processors:
            specs = (self.config.dataset_config[self.dataset].get("processors") or {}).values()
            spec = next((s for s in specs if s is not None and s.get("type") == kind), None)
            self._processors[kind] = registry.build("processor", spec) if spec is not None else None
        return self._processors[kind]

    @property
    def processors(self) -> dict[str, Any]:
        """Every processor of the first data set, by its key under ``processors`` (built
        afresh on each access; ``processor(kind)`` keeps one per kind)."""
        specs = self.config.dataset_config[self.dataset].get("processors") or {}
        return {
            name: registry.build("processor", spec)
            for name, spec in specs.items()
            if spec is not None
        }


def build_model(config: DictConfig) -> torch.nn.Module:
    """The run's model (``config.model``) from its whole ``model_config.<model>``."""
    model_class = registry.get_model_class(config.model)
    return model_class(config.model_config[config.model]).init_from_config()


def load_model_weights(model: torch.nn.Module, path: str) -> None:
    """Weights only (no optimizer or progress): ``checkpoint.resume_pretrained``, inference.

    A sharded folder is consolidated in memory first (``mmf_imgtune_consolidate`` writes the
    same as one file)."""
    state = consolidate(path) if is_sharded_checkpoint(path) else safe_torch_load(path)
    state = state.get("state_dict", state)
    state = {k.removeprefix("model."): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise KeyError(f"{path}: weights for unknown parameters {unexpected[:5]}; wrong model?")
    if missing:
        print(
            f"[mmf_imgtune] {path}: {len(missing)} parameters kept their initial values, "
            f"e.g. {missing[:3]}"
        )


def _is_checkpoint(path: Path) -> bool:
    return path.is_file() or is_sharded_checkpoint(path)


def find_config(checkpoint: Path) -> Path:
    """The run's config.yaml: next to the checkpoint, or above ``models/``."""
    folder = checkpoint.resolve().parent
    for candidate in (folder / "config.yaml", folder.parent / "config.yaml"):
        if candidate.is_file():
            return candidate
    raise MissingConfigError(
        f"no config.yaml next to {checkpoint} (looked in {folder} and {folder.parent}); pass "
        "the config.yaml of the run that wrote the checkpoint"
    )


def resolve_run(
    path: str | os.PathLike, checkpoint: str | os.PathLike | None = None
) -> tuple[Path, Path]:
    """(config.yaml, checkpoint) of a save folder or of a checkpoint path.

    Args:
        path: a run's save folder, or one of its checkpoints.
        checkpoint: with a folder, the checkpoint inside it (default: best.ckpt, else
            current.ckpt); an absolute path is used as given.
    """
    path = Path(path)
    if path.is_dir() and not is_sharded_checkpoint(path):
        config = path / "config.yaml"
        if not config.is_file():
            raise RunLoadError(f"no config.yaml in {path}: not the env.save_dir of an mmf_run")
        names = (checkpoint,) if checkpoint else DEFAULT_CHECKPOINTS
        for name in names:
            if _is_checkpoint(path / name):
                return config, path / name
        raise RunLoadError(f"no checkpoint {' or '.join(map(str, names))} in {path}")
    if checkpoint:
        raise RunLoadError(f"checkpoint={checkpoint} given with a checkpoint path {path}")
    if not _is_checkpoint(path):
        raise RunLoadError(f"no checkpoint or run folder at {path}")
    return find_config(path), path


def load_run(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    checkpoint: str | os.PathLike | None = None,
    config: str | os.PathLike | DictConfig | None = None,
) -> LoadedRun:
    """Open a finished run: config, plugin, model with its trained weights (eval mode).

    Args:
        path: the run's ``env.save_dir``, or a checkpoint file / sharded folder in it.
        device: where the model goes.
        checkpoint: with a folder ``path``, which checkpoint (default best.ckpt, else
            current.ckpt).
        config: a config.yaml, or a composed config (``mmf_predict``'s command line), to
            use instead of the run's own; with one, a checkpoint needs no config.yaml beside it.

    Raises:
        RunLoadError: naming the missing folder, config.yaml or checkpoint.
    """
    if OmegaConf.is_config(config):
        config_path, checkpoint_path = _resolve_checkpoint(path, checkpoint)
        run_config = config
    else:
        config_path, checkpoint_path = resolve_run(path, checkpoint)
        if config is not None:
            if not os.path.isfile(config):
                raise RunLoadError(f"config {config}: no such file")
            config_path = Path(config)
        run_config = rename_deprecated_keys(OmegaConf.load(config_path), str(config_path))
    user_dir = import_user_dir(run_config.env.get("user_dir") if "env" in run_config else None)
    model = build_model(run_config)
    load_model_weights(model, str(checkpoint_path))
    return LoadedRun(
        config=run_config,
        model=model.to(device).eval(),
        save_dir=config_path.parent,
        checkpoint=checkpoint_path,
        user_dir=user_dir,
    )


def _resolve_checkpoint(
    path: str | os.PathLike, checkpoint: str | os.PathLike | None
) -> tuple[Path, Path]:
    """Like ``resolve_run`` when the config comes from elsewhere: a checkpoint outside its
    run folder is fine; (where its config.yaml would be, checkpoint)."""
    try:
        return resolve_run(path, checkpoint)
    except MissingConfigError:
        path = Path(path)
        return path.resolve().parent / "config.yaml", path
