"""Optimizers and schedulers from MMF's ``optimizer`` / ``scheduler`` config keys."""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.optim.lr_scheduler import LambdaLR

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.registry import RegistryError, registry


def _register_torch_optimizers() -> None:
    """Every torch.optim optimizer under its own name (looked up in any case), plus MMF's
    ``adam_w``; a plugin's ``@registry.register_optimizer`` adds to them."""
    for name in dir(torch.optim):
        cls = getattr(torch.optim, name)
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer):
            if cls is not torch.optim.Optimizer:
                registry.kinds["optimizer"].register(name, cls)
    registry.kinds["optimizer"].register("adam_w", torch.optim.AdamW)


_register_torch_optimizers()


def build_optimizer(model: Any, config: DictConfig) -> torch.optim.Optimizer:
    """``optimizer.type``: a registered optimizer, ``adam_w``, or a torch.optim class name."""
    spec = config.optimizer
    parameters = model.get_optimizer_parameters(config)
    _optimizer_class(str(spec.type))  # a config error, not a registry one, when unknown
    return registry.build("optimizer", spec, parameters)


def _optimizer_class(name: str) -> Any:
    try:
        return registry.get_optimizer_class(name)
    except RegistryError:
        raise ConfigError(
            f"optimizer.type '{name}' is neither registered nor a torch.optim class; "
            f"use adam_w, Adam, SGD, ... or one of {_plugins('optimizer')}"
        ) from None


def _plugins(kind: str) -> list[str]:
    """Registered names of ``kind`` other than the built-ins (the error messages' lists)."""
    return [name for name in registry.names(kind) if name not in _BUILT_IN[kind]]


SCHEDULERS = ("warmup_linear", "warmup_cosine", "constant")


def check_optimization(config: DictConfig) -> None:
    """Fail before training starts on an unknown optimizer or scheduler (Lightning builds
    them only inside ``fit``)."""
    _optimizer_class(str(config.optimizer.type))
    if config.training.lr_scheduler:
        _scheduler_class(str(config.scheduler.type))
        _scheduler_total(config)


def _scheduler_class(name: str) -> Any:
    try:
        return registry.get_scheduler_class(name)
    except RegistryError:
        raise ConfigError(
            f"scheduler.type '{name}' is unknown; use {', '.join(SCHEDULERS)} or a "
            f"registered scheduler {_plugins('scheduler')}"
        ) from None


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


@registry.register_scheduler("warmup_linear")
def warmup_linear(
    optimizer: torch.optim.Optimizer, num_training_steps: int, num_warmup_steps: int | None = 0
) -> LambdaLR:
    """Linear warm-up from 0 over ``num_warmup_steps``, then linear decay to 0."""
    return LambdaLR(optimizer, _warmup_linear(int(num_warmup_steps or 0), num_training_steps))


@registry.register_scheduler("warmup_cosine")
def warmup_cosine(
    optimizer: torch.optim.Optimizer, num_training_steps: int, num_warmup_steps: int | None = 0
) -> LambdaLR:
    """Linear warm-up from 0 over ``num_warmup_steps``, then half a cosine to 0."""
    return LambdaLR(optimizer, _warmup_cosine(int(num_warmup_steps or 0), num_training_steps))


@registry.register_scheduler("constant")
def constant(optimizer: torch.optim.Optimizer, **unused: Any) -> LambdaLR:
    """The optimizer's lr throughout (``scheduler.params`` are not read)."""
    return LambdaLR(optimizer, lambda step: 1.0)


_BUILT_IN = {
    "optimizer": set(registry.names("optimizer")),
    "scheduler": set(SCHEDULERS),
}


def build_scheduler(optimizer: torch.optim.Optimizer, config: DictConfig) -> Any:
    """A per-update scheduler, or None when ``training.lr_scheduler`` is false.

    ``scheduler.params.num_training_steps`` null is filled with ``training.max_updates``.
    """
    if not config.training.lr_scheduler:
        return None
    _scheduler_class(str(config.scheduler.type))
    params = OmegaConf.to_container(config.scheduler.params, resolve=True) or {}
    if "num_training_steps" in params:
        params["num_training_steps"] = _scheduler_total(config)
    return registry.build("scheduler", {"type": config.scheduler.type, "params": params}, optimizer)
