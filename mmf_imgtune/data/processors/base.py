"""``BaseProcessor``: MMF's per-sample transform (tokenise text, load features, ...)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from mmf_imgtune.registry import registry


class BaseProcessor:
    """A callable built from ``{type: <registered name>, params: {...}}``.

    Subclasses read their options from ``config`` (the ``params`` node) in ``__init__`` and
    implement ``__call__(item: dict) -> dict``. Datasets build them with ``init_processors``.
    """

    def __init__(self, config: DictConfig | dict | None = None, *args: Any, **kwargs: Any):
        if config is None:
            config = {}
        self.config = config if isinstance(config, DictConfig) else OmegaConf.create(config)

    def __call__(self, item: Any, *args: Any, **kwargs: Any) -> Any:
        return item


def build_processor(spec: DictConfig | dict, **kwargs: Any) -> BaseProcessor:
    """Build a processor from ``{type, params}``; ``kwargs`` go to the constructor."""
    return registry.build("processor", spec, **kwargs)
