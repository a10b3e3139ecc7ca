"""``tsv_memes``: memes listed in a TSV (``id, image, text, label``) with MMF region features.

A complete MMF-style data set in a few dozen lines: a builder (registered name, defaults yaml,
``load``) and a dataset (processors from config, one ``Sample`` per row).
"""

import csv
import os

import torch

from mmf_imgtune import BaseDataset, BaseDatasetBuilder, Sample, registry
from mmf_imgtune.io.features import FeatureReader


class TsvMemesDataset(BaseDataset):
    def __init__(self, config, split):
        super().__init__("tsv_memes", config, split)
        self.init_processors()  # sets self.text_cleaner and self.text_processor
        path = self.resolve_path(config.annotations[split])
        BaseDatasetBuilder.require_file(
            path,
            f"dataset_config.tsv_memes.annotations.{split}",
            "Create it with projects/plugin_example/make_data.py.",
        )
        with open(path, newline="", encoding="utf-8") as handle:
            self.rows = list(csv.DictReader(handle, delimiter="\t"))
        self.reader = None  # opened lazily: once per DataLoader worker / DDP process

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        row = self.rows[index]
        if self.reader is None:
            features = self.resolve_path(self.config.features)
            self.reader = FeatureReader(features, int(self.config.max_features))
        text = self.text_cleaner({"text": row["text"]})
        sample = Sample(self.text_processor({**text, "answer": None}))
        key = os.path.splitext(os.path.basename(row["image"]))[0]
        sample.image_feature_0, sample.image_info_0 = self.reader.read(key)
        sample.targets = torch.tensor(int(row["label"]))
        sample.id = torch.tensor(int(row["id"]))
        return sample


@registry.register_builder("tsv_memes")
class TsvMemesBuilder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__("tsv_memes")

    @classmethod
    def config_path(cls):
        return os.path.join(os.path.dirname(__file__), "configs", "tsv_memes.yaml")

    def load(self, config, split):
        return TsvMemesDataset(config, split)
