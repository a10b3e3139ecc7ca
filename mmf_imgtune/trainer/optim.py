"""Optimizers and schedulers from MMF's ``optimizer`` / ``scheduler`` config keys."""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.optim.lr_scheduler import LambdaLR

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.registry import registry

_TORCH_OPTIMIZERS = {name.lower(): name for name in dir(torch.optim) if name[0].isupper()}
_ALIASES = {"adam_w": "AdamW", "adamw": "AdamW"}


def build_optimizer(model: Any, config: DictConfig) -> torch.optim.Optimizer:
    """``optimizer.type``: a registered optimizer, ``adam_w``, or a torch.optim class name."""
    spec = config.optimizer
    params = OmegaConf.to_container(spec.params, resolve=True) if spec.get("params") else {}
    parameters = model.get_optimizer_parameters(config)
    return _optimizer_class(str(spec.type))(parameters, **params)


def _optimizer_class(name: str) -> Any:
    if name in registry.kinds["optimizer"]:
        return registry.get_optimizer_class(name)
    class_name = _ALIASES.get(name.lower()) or _TORCH_OPTIMIZERS.get(name.lower())
    if class_name is None:
        raise ConfigError(
            f"optimizer.type '{name}' is neither registered nor a torch.optim class; "
            f"use adam_w, Adam, SGD, ... or one of {registry.names('optimizer')}"
        )
    return getattr(torch.optim, class_name)


SCHEDULERS = ("warmup_linear", "warmup_cosine", "constant")


def check_optimization(config: DictConfig) -> None:
    """Fail before training starts on an unknown optimizer or scheduler (Lightning builds
    them only inside ``fit``)."""
    _optimizer_class(str(config.optimizer.type))
    if config.training.lr_scheduler:
        name = str(config.scheduler.type)
        if name not in SCHEDULERS and name not in registry.kinds["scheduler"]:
            raise ConfigError(
                f"scheduler.type '{name}' is unknown; use {', '.join(SCHEDULERS)} or a "
                f"registered scheduler {registry.names('scheduler')}"
            )
        _scheduler_total(config)


def _scheduler_total(config: DictConfig) -> int:
    total = config.scheduler.params.num_training_steps or config.training.max_updates
    if total is None:
        raise ConfigError(
            "scheduler.params.num_training_steps is needed when training.max_updates is null"
        )
    return int(total)


def _warmup_linear(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def _warmup_cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, config: DictConfig) -> Any:
    """A per-update scheduler, or None when ``training.lr_scheduler`` is false."""
    if not config.training.lr_scheduler:
        return None
    spec = config.scheduler
    name = str(spec.type)
    if name in registry.kinds["scheduler"]:
        params = OmegaConf.to_container(spec.params, resolve=True) if spec.get("params") else {}
        return registry.get_scheduler_class(name)(optimizer, **params)
    warmup = int(spec.params.num_warmup_steps or 0)
    total = _scheduler_total(config)
    factories = {"warmup_linear": _warmup_linear, "warmup_cosine": _warmup_cosine}
    if name == "constant":
        return LambdaLR(optimizer, lambda step: 1.0)
    if name not in factories:
        raise ConfigError(
            f"scheduler.type '{name}' is unknown; use {', '.join(SCHEDULERS)} or a "
            f"registered scheduler {registry.names('scheduler')}"
        )
    return LambdaLR(optimizer, factories[name](warmup, total))
