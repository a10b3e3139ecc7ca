"""``BaseDatasetBuilder``: prepares data once (``build``) and makes datasets (``load``)."""

from __future__ import annotations

import os

from omegaconf import DictConfig, ListConfig
from torch.utils.data import Dataset


class BaseDatasetBuilder:
    """Subclass with a no-argument ``__init__`` that calls ``super().__init__("<name>")``.

    ``build(config, split)`` runs once per machine before training (download, generate or
    extract: here rank 0 only); ``load(config, split)`` returns the ``Dataset`` for a split
    on every process. ``config_path()`` names the defaults yaml merged into the run config.
    """

    def __init__(self, dataset_name: str):
        self.dataset_name = dataset_name

    @classmethod
    def config_path(cls) -> str | None:
        return None

    def build(self, config: DictConfig, split: str) -> None:
        """Prepare data on disk; default: nothing to do."""

    def load(self, config: DictConfig, split: str) -> Dataset:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement load(config, split)")

    def feature_stores(self, config: DictConfig, split: str) -> list[tuple[str, str]]:
        """The region feature stores a split reads, as (path, config key that sets it).

        Default: ``features.<split>`` (relative to ``data_dir``) when ``use_features``; the run
        checks them against the model's ``feature_dim`` before training and
        ``mmf_imgtune_generate`` takes its extraction recipe from the train split's first.
        """
        if not config.get("use_features") or config.get("features") is None:
            return []
        try:
            paths = split_paths(config, "features", split, self.dataset_name)
        except KeyError:
            return []
        return [(path, f"dataset_config.{self.dataset_name}.features.{split}") for path in paths]

    def split_names(self, config: DictConfig, split: str) -> list[str]:
        """The annotation keys read for a phase: ``annotations.<split>`` (a path or list)."""
        return [split]

    @staticmethod
    def require_file(path: str, key: str, source: str) -> str:
        """Fail with the path, the config key that sets it and where the data comes from."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"Missing data: '{path}' (set by {key}). {source}")
        return path


def split_paths(config: DictConfig, section: str, split: str, dataset: str) -> list[str]:
    """``config.<section>.<split>`` as a list of absolute paths (MMF allows a str or a list).

    Raises:
        KeyError: naming ``dataset_config.<dataset>.<section>.<split>`` when it is not set.
    """
    node = config.get(section)
    value = node.get(split) if node is not None else None
    if value is None or (isinstance(value, (list, ListConfig)) and not value):
        raise KeyError(
            f"dataset_config.{dataset}.{section}.{split} is not set: give the path (relative "
            f"to dataset_config.{dataset}.data_dir) of the {section} of the '{split}' split"
        )
    values = list(value) if isinstance(value, (list, ListConfig)) else [value]
    root = str(config.data_dir)
    return [str(v) if os.path.isabs(str(v)) else os.path.join(root, str(v)) for v in values]
