"""Our dataset builders and processors in MMF's registry, and a reporter for list fields.

``MMFBuilder`` wraps one of our builders: MMF calls its ``build`` once with ``"train"`` (on the
main process), so it prepares every split ours knows; ``load`` returns ``MMFDataset``, which
hands out MMF ``Sample``s of our dataset's items and asks our dataset for prediction rows.
Processors: ours already take MMF's ``cls(params, data_dir=...)``; MMF's registry only wants
its ``BaseProcessor`` among the bases, which ``_processor_class`` adds.
"""

from __future__ import annotations

from typing import Any

from mmf.common.registry import registry
from mmf.common.sample import Sample
from mmf.common.test_reporter import TestReporter
from mmf.datasets.base_dataset import BaseDataset
from mmf.datasets.base_dataset_builder import BaseDatasetBuilder
from mmf.datasets.processors.processors import BaseProcessor
from omegaconf import DictConfig

from mmf_imgtune.registry import registry as imgtune_registry
from mmf_imgtune_mmf import names
from mmf_imgtune_mmf.config_paths import absolute_config_path, rekeyed_dataset_yaml
from mmf_imgtune_mmf.translate import mmf_sample_fields

SPLITS = ("train", "val", "test")


def splits_to_build(config: DictConfig) -> list[str]:
    """The splits a dataset config defines (``sizes`` for shapes, else ``annotations``)."""
    for key in ("sizes", "annotations"):
        node = config.get(key)
        if node is not None and hasattr(node, "keys"):
            return [s for s in SPLITS if node.get(s) is not None]
    return ["train"]


class MMFDataset(BaseDataset):
    """One of our datasets as an MMF ``BaseDataset`` (our processors, our items)."""

    def __init__(self, mmf_name: str, config: DictConfig, dataset_type: str, inner: Any):
        super().__init__(mmf_name, config, dataset_type)
        self.inner = inner

    def init_processors(self) -> None:
        # Our dataset built its processors already; MMF models look them up by this key.
        for key in getattr(self.inner, "_processor_names", []):
            processor = getattr(self.inner, key)
            setattr(self, key, processor)
            registry.register(f"{self.dataset_name}_{key}", processor)

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> Sample:
        return Sample(mmf_sample_fields(self.inner[index]))

    def format_for_prediction(self, report: Any) -> list[dict]:
        return self.inner.format_for_prediction(report)


def _builder_class(ours: str, theirs: str) -> type:
    inner_cls = imgtune_registry.get_builder_class(ours)

    class MMFBuilder(BaseDatasetBuilder):
        __doc__ = f"mmf_imgtune's ``{ours}`` builder as MMF's ``{theirs}``."

        def __init__(self):
            super().__init__(theirs)
            self.inner = inner_cls()

        @classmethod
        def config_path(cls) -> str | None:
            path = inner_cls.config_path()
            if path is None:
                return None
            if ours == theirs:
                return absolute_config_path(path)
            return rekeyed_dataset_yaml(path, ours, theirs)

        def build(self, config: DictConfig, dataset_type: str = "train", *args, **kwargs):
            for split in splits_to_build(config):
                self.inner.build(config, split)

        def load(self, config: DictConfig, dataset_type: str = "train", *args, **kwargs):
            return MMFDataset(theirs, config, dataset_type, self.inner.load(config, dataset_type))

    MMFBuilder.__name__ = MMFBuilder.__qualname__ = f"MMF_{inner_cls.__name__}"
    return MMFBuilder


def _processor_class(ours: str) -> type:
    inner_cls = imgtune_registry.get_processor_class(ours)
    return type(f"MMF_{inner_cls.__name__}", (inner_cls, BaseProcessor), {})


class ListSafeReporter(TestReporter):
    """MMF's file reporter, except candidate fields that are lists (``captions``, string
    ids) are left as they are instead of failing on ``.dim()``; they are not gathered across
    processes (tensors still are)."""

    def reshape_and_gather(self, report, key):
        if key in report and not hasattr(report[key], "dim"):
            return report
        return super().reshape_and_gather(report, key)


def register() -> None:
    for ours, theirs in names.BUILDERS.items():
        registry.register_builder(theirs)(_builder_class(ours, theirs))
    for ours, theirs in names.PROCESSORS.items():
        registry.register_processor(theirs)(_processor_class(ours))
    registry.register_test_reporter(names.TEST_REPORTER)(ListSafeReporter)
