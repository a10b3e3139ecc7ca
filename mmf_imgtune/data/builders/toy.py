"""``toy``: a tiny generated classification data set for trainer tests and the quick demo.

Each sample has region-like features and a short text; the label is the XOR of a bit carried
by the features and a bit carried by the words, so neither modality alone beats chance.
Generated in memory from ``dataset_config.toy.seed``; nothing is written to disk.
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.base_dataset import BaseDataset
from mmf_imgtune.registry import registry

WORDS = ["alpha", "beta", "gamma", "delta"]
_SPLIT_OFFSET = {"train": 0, "val": 1, "test": 2}


class ToyDataset(BaseDataset):
    def __init__(self, config: DictConfig, dataset_type: str):
        super().__init__("toy", config, dataset_type)
        self.init_processors()
        size = int(config.sizes[dataset_type])
        rng = np.random.default_rng(int(config.seed) * 10 + _SPLIT_OFFSET[dataset_type])
        dim, boxes = int(config.feature_dim), int(config.max_features)
        self.image_bit = rng.integers(0, 2, size)
        self.text_bit = rng.integers(0, 2, size)
        self.features = rng.normal(0, 1, (size, boxes, dim)).astype(np.float32)
        # The image bit lives in the sign of feature 0 of box 0.
        self.features[:, 0, 0] = np.where(self.image_bit == 1, 2.0, -2.0)
        self.texts = [f"{WORDS[2 * t]} {WORDS[int(rng.integers(0, 4))]}" for t in self.text_bit]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> Sample:
        sample = Sample(self.text_processor({"text": self.texts[index]}))
        sample.image_feature_0 = torch.from_numpy(self.features[index])
        sample.targets = torch.tensor(int(self.image_bit[index] ^ self.text_bit[index]))
        sample.id = torch.tensor(index)
        return sample


@registry.register_builder("toy")
class ToyBuilder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__("toy")

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/toy/defaults.yaml"

    def load(self, config: DictConfig, split: str) -> ToyDataset:
        if split not in config.sizes:
            raise KeyError(f"dataset_config.toy.sizes has no split '{split}'")
        return ToyDataset(config, split)
