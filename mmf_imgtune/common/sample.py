"""``Sample`` and ``SampleList``: MMF's per-example and batch containers.

A ``Sample`` is an attribute-access dict. ``SampleList`` batches samples: tensors of equal
shape are stacked on a new leading dimension, anything else becomes a list. Datasets pad text
to ``max_seq_length`` and features to ``max_features``; for genuinely variable-length fields
``pad_sequence_field`` pads along the first dimension and records the true lengths.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import torch


class Sample(OrderedDict):
    """One example: ``sample.text``, ``sample["text"]`` and ``sample.image_info_0.bbox``."""

    def __init__(self, init_dict: dict | None = None):
        super().__init__()
        for key, value in (init_dict or {}).items():
            self[key] = value

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, dict) and not isinstance(value, Sample):
            value = Sample(value)
        self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, dict) and not isinstance(value, Sample):
            value = Sample(value)
        super().__setitem__(key, value)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"Sample has no field '{key}'; fields are: {', '.join(self.keys())}"
            ) from None

    def fields(self) -> list[str]:
        return list(self.keys())


def _stack(values: list[Any], field: str) -> Any:
    first = values[0]
    if isinstance(first, torch.Tensor):
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            raise ValueError(
                f"Cannot batch field '{field}': tensors have different shapes {sorted(shapes)}. "
                "Pad it in the dataset (max_seq_length / max_features) or call "
                "SampleList.pad_sequence_field on the list of samples."
            )
        return torch.stack(values)
    if isinstance(first, dict):
        return SampleList([Sample(v) for v in values])
    return list(values)


class SampleList(Sample):
    """A batch. ``SampleList([sample, ...])`` or ``SampleList(dict_of_batched_fields)``."""

    def __init__(self, samples: Iterable[Sample] | dict | None = None):
        super().__init__()
        if samples is None:
            return
        if isinstance(samples, dict):
            for key, value in samples.items():
                self[key] = value
            return
        samples = list(samples)
        if not samples:
            return
        keys = list(samples[0].keys())
        for index, sample in enumerate(samples):
            if list(sample.keys()) != keys and set(sample.keys()) != set(keys):
                raise ValueError(
                    f"Sample {index} has fields {sorted(sample.keys())} but sample 0 has "
                    f"{sorted(keys)}; every sample in a batch needs the same fields."
                )
        for key in keys:
            self[key] = _stack([s[key] for s in samples], key)

    def __setitem__(self, key: str, value: Any) -> None:
        # Nested dicts of a batch stay SampleLists (image_info_0.bbox is a batched tensor).
        if isinstance(value, dict) and not isinstance(value, Sample):
            value = SampleList(value)
        OrderedDict.__setitem__(self, key, value)

    def add_field(self, key: str, value: Any) -> None:
        self[key] = value

    def get_batch_size(self) -> int:
        for value in self.values():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                return value.size(0)
            if isinstance(value, list):
                return len(value)
            if isinstance(value, SampleList):
                size = value.get_batch_size()
                if size:
                    return size
        return 0

    def get_device(self) -> torch.device:
        for value in self.values():
            if isinstance(value, torch.Tensor):
                return value.device
        return torch.device("cpu")

    def to(self, device: torch.device | str, non_blocking: bool = True) -> SampleList:
        moved = SampleList()
        for key, value in self.items():
            if isinstance(value, torch.Tensor):
                value = value.to(device, non_blocking=non_blocking)
            elif isinstance(value, SampleList):
                value = value.to(device, non_blocking=non_blocking)
            OrderedDict.__setitem__(moved, key, value)
        return moved

    @staticmethod
    def pad_sequence_field(
        samples: list[Sample], field: str, pad_value: float = 0, length: int | None = None
    ) -> None:
        """Pad ``sample[field]`` of every sample along dim 0 to a common length, in place.

        Adds ``<field>_length`` (the true length) to each sample so the model can mask.
        """
        longest = max(s[field].size(0) for s in samples)
        length = length or longest
        for sample in samples:
            tensor = sample[field][:length]
            true_len = tensor.size(0)
            if true_len < length:
                pad_shape = (length - true_len, *tensor.shape[1:])
                pad = torch.full(pad_shape, pad_value, dtype=tensor.dtype)
                tensor = torch.cat([tensor, pad])
            sample[field] = tensor
            sample[f"{field}_length"] = torch.tensor(true_len)
