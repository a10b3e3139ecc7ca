"""Deterministic, resumable batch sampling over one or several datasets.

Every epoch's batch order is a pure function of ``(seed, epoch)``: each dataset's indices are
shuffled and cut into batches, and the batches of all datasets are interleaved in a shuffled
order, so each dataset is visited in proportion to its size (MMF's size-proportional sampling)
and a batch always holds samples of one dataset. Because the order is recomputable, resuming
a run only needs ``(epoch, batches already trained)``, which the checkpoint stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Dataset, Sampler

from mmf_imgtune.common.collate import BatchCollator


class MultiDataset(Dataset):
    """Concatenates datasets; items come back as ``(dataset_index, sample)``."""

    def __init__(self, datasets: Sequence[Dataset], names: Sequence[str]):
        self.datasets = list(datasets)
        self.names = list(names)
        self.offsets = np.cumsum([0] + [len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        """Forward the epoch to datasets that vary by epoch (e.g. a caption per epoch)."""
        for dataset in self.datasets:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)

    @property
    def varies_by_epoch(self) -> bool:
        return any(hasattr(d, "set_epoch") for d in self.datasets)

    def __getitem__(self, index: int):
        which = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return which, self.datasets[which][index - int(self.offsets[which])]


class MultiDatasetCollator:
    """Collates ``(dataset_index, sample)`` items of one batch, tagging the dataset name."""

    def __init__(self, names: Sequence[str], dataset_type: str):
        self.collators = [BatchCollator(name, dataset_type) for name in names]

    def __call__(self, items):
        which = {index for index, _ in items}
        if len(which) != 1:
            raise RuntimeError(f"a batch mixed datasets {sorted(which)}; batches must hold one")
        return self.collators[which.pop()]([sample for _, sample in items])


class _EpochForwarder:
    def __init__(self, owner: ResumableBatchSampler):
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)


class ResumableBatchSampler(Sampler[list[int]]):
    """Size-proportional multi-dataset batches, sharded over ranks, resumable mid-epoch.

    Args:
        sizes: length of each dataset (in ``MultiDataset`` order).
        batch_size: samples per batch on one rank.
        seed: run seed; the order depends only on (seed, epoch).
        rank, world_size: this process's shard (slice ``rank`` of every global batch).
        shuffle: False keeps the natural order (evaluation).
        drop_last: drop each dataset's last incomplete batch (training).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        drop_last: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch size per device must be >= 1, got {batch_size}")
        self.sizes = list(sizes)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        self._skip: tuple[int, int] | None = None  # (epoch, batches) to skip once on resume
        self.epoch_listeners: list = []  # e.g. MultiDataset.set_epoch
        # Lightning calls set_epoch on `batch_sampler.sampler`, not on the batch sampler.
        self.sampler = _EpochForwarder(self)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for listener in self.epoch_listeners:
            listener(epoch)

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """Skip the first ``batches_done`` batches of ``epoch`` the next time it is iterated."""
        self.set_epoch(epoch)
        self._skip = (epoch, batches_done)

    def _all_batches(self) -> list[list[int]]:
        # Global batches (batch_size x world_size samples) are cut and ordered exactly as one
        # process would cut batches of that size; rank r takes the r-th slice of each. So N
        # processes at a global batch B see, step by step, the samples of one process at B.
        rng = np.random.default_rng([self.seed, self.epoch])
        size_global = self.batch_size * self.world_size
        batches: list[list[int]] = []
        offset = 0
        for size in self.sizes:
            order = rng.permutation(size) if self.shuffle else np.arange(size)
            order = order + offset
            for start in range(0, size, size_global):
                chunk = order[start : start + size_global]
                if len(chunk) == size_global or not self.drop_last:
                    batches.append(chunk.tolist())
            offset += size
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.world_size > 1:
            lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
            # A last partial evaluation batch may leave nothing for the higher ranks.
            batches = [batch[lo:hi] for batch in batches if batch[lo:hi]]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        skip = 0
        if self._skip is not None and self._skip[0] <= self.epoch:
            # Lightning may create an iterator before it sets the resumed epoch: only the
            # resumed epoch's own iteration consumes the skip.
            if self._skip[0] == self.epoch:
                skip = self._skip[1]
            self._skip = None
        yield from batches[skip:]

    def __len__(self) -> int:
        return len(self._all_batches())
