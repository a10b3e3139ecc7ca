"""``BaseModel``: MMF's model contract on a plain ``nn.Module``.

Subclass, register with ``@registry.register_model("name")``, point ``config_path()`` at the
defaults yaml, create layers in ``build()`` and return ``{"scores": ...}`` (and optionally
``"losses"``) from ``forward(sample_list)``. When ``forward`` returns no ``losses``, calling the
model computes those listed under ``model_config.<name>.losses`` against ``targets``.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mmf_imgtune.config.loader import load_yaml, merge, resolve_path
from mmf_imgtune.modules.losses import Losses


class BaseModel(nn.Module):
    """Args:
    config: the ``model_config.<name>`` node (a DictConfig or plain dict).
    """

    def __init__(self, config: DictConfig | dict):
        super().__init__()
        self.config = config if isinstance(config, DictConfig) else OmegaConf.create(config)
        self._built = False

    @classmethod
    def config_path(cls) -> str | None:
        """Path of the defaults yaml, relative to the repository root (or absolute)."""
        return None

    @classmethod
    def default_config(cls, overrides: DictConfig | dict | None = None) -> DictConfig:
        """The ``model_config.<name>`` of ``config_path()`` with ``overrides`` merged over it
        as ``mmf_run`` merges layers: a whole config for scripts and tests that build a model
        without a run config. The constructor itself takes its config as given."""
        if cls.config_path() is None:
            raise ValueError(f"{cls.__name__} has no config_path(): pass a whole config")
        models = load_yaml(resolve_path(cls.config_path())).model_config
        if len(models) != 1:
            raise ValueError(
                f"{cls.config_path()}: model_config should hold one model, found {list(models)}"
            )
        (defaults,) = models.values()
        return merge(defaults, overrides or {})

    def build(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement build()")

    def init_losses(self) -> None:
        self.losses = Losses(self.config.get("losses") or [])

    def init_from_config(self) -> BaseModel:
        """Build layers and losses once; returns self so ``Model(cfg).init_from_config()``."""
        if not self._built:
            self.build()
            self.init_losses()
            self._built = True
        return self

    def forward(self, sample_list: Any) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward(sample_list)")

    def __call__(self, sample_list: Any, *args: Any, **kwargs: Any) -> dict:
        output = super().__call__(sample_list, *args, **kwargs)
        if not isinstance(output, dict):
            raise TypeError(
                f"{type(self).__name__}.forward must return a dict with 'scores' and/or "
                f"'losses', got {type(output).__name__}"
            )
        if "losses" not in output and getattr(self, "losses", None) is not None:
            if len(self.losses.names) and "targets" in sample_list:
                output["losses"] = self.losses(sample_list, output)
        return output

    def get_optimizer_parameters(self, config: DictConfig) -> Any:
        """Parameters (or param groups) the optimizer trains; default: all that need grad."""
        return [p for p in self.parameters() if p.requires_grad]

    def format_for_prediction(self, sample_list: Any, model_output: dict) -> list[dict] | None:
        """Optional: prediction rows for a batch; ``None`` defers to the dataset's."""
        return None

    def count_parameters(self) -> tuple[int, int]:
        """(total, trainable) parameter counts."""
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return total, trainable

    @torch.no_grad()
    def generate(self, sample_list: Any, **kwargs: Any) -> Any:  # pragma: no cover - optional
        raise NotImplementedError(f"{type(self).__name__} does not generate text")
