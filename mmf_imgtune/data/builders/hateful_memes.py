"""``hateful_memes``: the Hateful Memes challenge (Kiela et al. 2020, arXiv 2005.04790) in
MMF's layout.

Under ``dataset_config.hateful_memes.data_dir`` (default ``<env.data_dir>/datasets``)::

    hateful_memes/defaults/annotations/{train,dev_seen,dev_unseen,test_seen,test_unseen}.jsonl
    hateful_memes/defaults/images/img/01235.png
    hateful_memes/defaults/features/detectron.lmdb   (or a folder of 01235.npy + _info.npy)

Each jsonl line is ``{"id": 1235, "img": "img/01235.png", "text": "...", "label": 0|1}``
(test files may lack ``label``). Region features are keyed by the image's file stem
(``01235``), as in MMF; with ``extract.enabled`` the builder extracts missing ones from the
images (given boxes, a grid or a detector: ``mmf_imgtune.data.extraction``). Predictions follow the competition's csv: ``id,proba,label``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from omegaconf import DictConfig

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.annotated import AnnotatedDataset, existing_paths
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.extraction import extract_missing, extraction_enabled, given_boxes
from mmf_imgtune.io.annotations import AnnotationError, check_field, load_annotations
from mmf_imgtune.modules.metrics import positive_probability
from mmf_imgtune.registry import registry

SOURCE = (
    "Hateful Memes comes from https://hatefulmemeschallenge.com (accept the licence, download "
    "the zip); convert it to MMF's layout with `python -m mmf_imgtune.cli.convert_hateful_memes "
    "--zip_files <zip> --data_dir <env.data_dir>` or point data_dir at an existing MMF data folder."
)
REQUIRED_FIELDS = ("id", "img", "text")


def load_records(config: DictConfig, split: str) -> list[dict]:
    """The split's jsonl lines, checked to carry ``id``, ``img``, ``text`` (and a label)."""
    records = []
    for path in existing_paths(config, "annotations", split, "hateful_memes", SOURCE):
        for number, record in enumerate(load_annotations(path), start=1):
            missing = [f for f in REQUIRED_FIELDS if f not in record]
            if missing:
                raise AnnotationError(
                    f"{path}: record {number} lacks {missing}; Hateful Memes lines need "
                    f"{list(REQUIRED_FIELDS)} (and 'label' for train/dev)"
                )
            where = f"{path}: record {number}"
            check_field(record, "id", "int", where)
            check_field(record, "img", "text", where)
            check_field(record, "text", "text", where)
            if "label" in record:
                record["label"] = check_field(record, "label", "label", where)
            records.append(record)
    return records


def feature_key(record: dict) -> str:
    # img/01235.png -> 01235 (MMF's feature_path for this data set)
    return os.path.splitext(os.path.basename(record["img"]))[0]


class HatefulMemesDataset(AnnotatedDataset):
    def __init__(self, config: DictConfig, dataset_type: str):
        super().__init__("hateful_memes", config, dataset_type, load_records(config, dataset_type))

    def feature_key(self, record: dict) -> str:
        return feature_key(record)

    def image_file(self, record: dict) -> str:
        return record["img"]

    def get_sample(self, record: dict) -> Sample:
        sample = Sample(self.text_processor({"text": record["text"], "answer": None}))
        sample.id = torch.tensor(int(record["id"]), dtype=torch.long)
        if "label" in record:
            sample.targets = torch.tensor(int(record["label"]), dtype=torch.long)
        return sample

    def format_for_prediction(self, report: Any) -> list[dict[str, Any]]:
        """The competition's submission rows: ``id``, ``proba`` (P(hateful)), ``label``."""
        proba = positive_probability(report["scores"].detach()).cpu()
        ids = report["id"]
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return [
            {"id": int(i), "proba": float(p), "label": int(p > 0.5)}
            for i, p in zip(ids, proba.tolist())
        ]


@registry.register_builder("hateful_memes")
class HatefulMemesBuilder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__("hateful_memes")

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/hateful_memes/defaults.yaml"

    def build(self, config: DictConfig, split: str) -> None:
        """With ``extract.enabled``: extract the features the split lacks from its images."""
        if extraction_enabled(config):
            images = {feature_key(r): r["img"] for r in load_records(config, split)}
            boxes = given_boxes(config, "hateful_memes", images)
            extract_missing(config, "hateful_memes", split, images, boxes)

    def load(self, config: DictConfig, split: str) -> HatefulMemesDataset:
        return HatefulMemesDataset(config, split)
