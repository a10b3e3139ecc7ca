"""Lightning DataModule over MMF dataset builders.

``prepare_data`` runs each builder's ``build`` once per machine (local rank 0); ``setup``
checks the region feature stores against the model's ``feature_dim`` (``feature_check.py``)
and loads every split on every process. Training uses one loader over all datasets with
size-proportional batches (``ResumableBatchSampler``); val/test use one loader per dataset so
metrics stay per dataset.

Hand-offs with ``MMFLightningModule`` (public methods, through Lightning's
``trainer.datamodule``): ``resume_at(epoch, batches_in_epoch)`` on checkpoint load, so the
first resumed epoch skips exactly the batches already trained; ``format_for_prediction``
turns a test batch's output into prediction rows with the dataset's own formatter.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.config.run_type import RunPhases
from mmf_imgtune.registry import registry
from mmf_imgtune.trainer.feature_check import check_feature_stores, save_feature_stores
from mmf_imgtune.trainer.sampling import MultiDataset, MultiDatasetCollator, ResumableBatchSampler
from mmf_imgtune.utils.user_dir import worker_init

# MMF phase names -> the split name passed to builders.
SPLITS = {"train": "train", "val": "val", "test": "test"}


def per_device_batch_size(config: DictConfig, world_size: int) -> int:
    """``training.batch_size`` is global (MMF): split it evenly across processes."""
    batch_size = int(config.training.batch_size)
    if batch_size % world_size or batch_size < world_size:
        raise ConfigError(
            f"training.batch_size={batch_size} (global) does not split evenly over "
            f"{world_size} processes (training.devices x training.num_nodes); use a multiple "
            f"of {world_size}"
        )
    return batch_size // world_size


class MMFDataModule(pl.LightningDataModule):
    def __init__(self, config: DictConfig):
        super().__init__()
        self.config = config
        self.names = list(config.datasets)
        self.builders = {name: registry.get_builder_class(name)() for name in self.names}
        self.datasets: dict[str, list[Any]] = {}
        self.train_sampler: ResumableBatchSampler | None = None
        # (epoch, batches already trained in it), applied by the next train_dataloader().
        self.pending_resume: tuple[int, int] | None = None

    def resume_at(self, epoch: int, batches_in_epoch: int) -> None:
        """Continue training at ``epoch`` after its first ``batches_in_epoch`` batches (the
        checkpoint's progress): the next ``train_dataloader`` skips exactly those."""
        self.pending_resume = (int(epoch), int(batches_in_epoch))

    def _dataset_config(self, name: str) -> DictConfig:
        return self.config.dataset_config[name]

    def prepare_data(self) -> None:
        for split in self._needed_splits():
            for name, builder in self.builders.items():
                builder.build(self._dataset_config(name), split)

    def _needed_splits(self) -> list[str]:
        phases = RunPhases.parse(self.config.run_type)
        splits = []
        if phases.train:
            splits += ["train", "val"]
        elif phases.val:
            splits.append("val")
        if phases.test:
            splits.append("test")
        return splits

    def setup(self, stage: str | None = None) -> None:
        if not self.datasets:  # before any split loads: a width mismatch fails here, not at step N
            stores = check_feature_stores(self.config, self.builders, self._needed_splits())
            if stores and self._world()[0] == 0:
                save_feature_stores(stores, str(self.config.env.save_dir))
        for split in self._needed_splits():
            if split not in self.datasets:
                self.datasets[split] = [
                    self.builders[name].load(self._dataset_config(name), split)
                    for name in self.names
                ]

    # --- loaders ------------------------------------------------------------------------
    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(
        self,
        dataset: MultiDataset,
        batch_sampler: ResumableBatchSampler,
        names: list[str],
        split: str,
    ) -> DataLoader:
        workers = int(self.config.training.num_workers)
        # Persistent workers keep their own dataset copies, which would miss set_epoch.
        persistent = workers > 0 and not (split == "train" and dataset.varies_by_epoch)
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            collate_fn=MultiDatasetCollator(names, split),
            num_workers=workers,
            pin_memory=bool(self.config.training.pin_memory),
            worker_init_fn=worker_init,
            persistent_workers=persistent,
        )

    def train_dataloader(self) -> DataLoader:
        rank, world = self._world()
        datasets = self.datasets["train"]
        if self.train_sampler is None:
            self.train_sampler = ResumableBatchSampler(
                [len(d) for d in datasets],
                per_device_batch_size(self.config, world),
                seed=int(self.config.training.seed),
                rank=rank,
                world_size=world,
            )
        if self.pending_resume is not None:
            self.train_sampler.resume_at(*self.pending_resume)
            self.pending_resume = None
        if len(self.train_sampler) == 0:
            raise ValueError(
                f"no full training batch: datasets {self.names} have {[len(d) for d in datasets]} "
                f"samples but the per-device batch size is {self.train_sampler.batch_size}; "
                "lower training.batch_size"
            )
        multi = MultiDataset(datasets, self.names)
        self.train_sampler.epoch_listeners = [multi.set_epoch]
        multi.set_epoch(self.train_sampler.epoch)
        return self._loader(multi, self.train_sampler, self.names, "train")

    def _eval_loaders(self, split: str) -> list[DataLoader]:
        rank, world = self._world()
        batch = self.config.training.batch_size_per_device_eval or per_device_batch_size(
            self.config, world
        )
        loaders = []
        for name, dataset in zip(self.names, self.datasets[split]):
            sampler = ResumableBatchSampler(
                [len(dataset)],
                int(batch),
                seed=0,
                rank=rank,
                world_size=world,
                shuffle=False,
                drop_last=False,
            )
            loaders.append(self._loader(MultiDataset([dataset], [name]), sampler, [name], split))
        return loaders

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("val")

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("test")

    def format_for_prediction(self, split: str, name: str, report: dict) -> list[dict]:
        """Prediction rows of one batch of dataset ``name`` (``report``: the batch and the
        model's output), by that dataset's ``format_for_prediction`` (MMF's)."""
        dataset = self.datasets[split][self.names.index(name)]
        return dataset.format_for_prediction(report)
