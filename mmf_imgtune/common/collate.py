"""Batch collation: samples -> ``SampleList`` tagged with the dataset it came from."""

from __future__ import annotations

from mmf_imgtune.common.sample import Sample, SampleList


class BatchCollator:
    """DataLoader ``collate_fn`` that builds a ``SampleList`` and adds MMF's
    ``dataset_name`` and ``dataset_type`` fields (one batch always comes from one dataset)."""

    def __init__(self, dataset_name: str, dataset_type: str):
        self.dataset_name = dataset_name
        self.dataset_type = dataset_type

    def __call__(self, samples: list[Sample]) -> SampleList:
        batch = SampleList(samples)
        batch.dataset_name = self.dataset_name
        batch.dataset_type = self.dataset_type
        return batch
