"""Data: base classes, processors, feature readers and the built-in dataset builders."""

from mmf_imgtune.data import builders, jsonl_resolvers, processors  # noqa: F401  (registration)
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.base_dataset import BaseDataset

__all__ = ["BaseDataset", "BaseDatasetBuilder"]
