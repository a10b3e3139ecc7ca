"""``BaseDataset``: MMF's dataset contract (processors from config, ``Sample`` items)."""

from __future__ import annotations

import os
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.processors.base import build_processor
from mmf_imgtune.registry import registry


class BaseDataset(Dataset):
    """Subclass and implement ``__len__`` and ``__getitem__ -> Sample``.

    Args:
        dataset_name: registry name, e.g. ``"hateful_memes"``.
        config: the ``dataset_config.<dataset_name>`` node.
        dataset_type: ``"train"``, ``"val"`` or ``"test"``.
    """

    def __init__(self, dataset_name: str, config: DictConfig, dataset_type: str = "train"):
        super().__init__()
        self.dataset_name = dataset_name
        self.config = config
        self.dataset_type = dataset_type
        self._processor_names: list[str] = []

    @property
    def data_dir(self) -> str:
        return str(self.config.get("data_dir", "."))

    def resolve_path(self, path: str) -> str:
        """Annotation/feature/image paths are relative to ``dataset_config.<d>.data_dir``."""
        return path if os.path.isabs(path) else os.path.join(self.data_dir, path)

    def init_processors(self) -> None:
        """Build every ``config.processors.<key>`` and set it as ``self.<key>``."""
        for key, spec in (self.config.get("processors") or {}).items():
            processor = build_processor(spec)
            setattr(self, key, processor)
            self._processor_names.append(key)
            # MMF stores e.g. ``hateful_memes_text_processor`` for models to look up.
            registry.register(f"{self.dataset_name}_{key}", processor)

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def format_for_prediction(self, report: Any) -> list[dict[str, Any]]:
        """Turn a batch's model output into prediction rows (MMF: one dict per sample).

        Default: the argmax class and its probability for each ``id``.
        """

        scores = report["scores"]
        if scores.dim() == 2 and scores.size(1) > 1:
            probs = torch.softmax(scores.float(), dim=1)
            confidence, label = probs.max(dim=1)
        else:
            probs = torch.sigmoid(scores.float().view(-1))
            confidence, label = probs, (probs > 0.5).long()
        ids = report["id"]
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return [
            {"id": i, "label": int(lbl), "confidence": float(c)}
            for i, lbl, c in zip(ids, label.tolist(), confidence.tolist())
        ]
