"""``coco``: COCO captions (Chen et al. 2015) on the Karpathy split (Karpathy & Fei-Fei 2015).

Reads the Karpathy json (``dataset_coco.json``): ``{"images": [{"filepath": "val2014",
"filename": "COCO_val2014_000000391895.jpg", "cocoid": 391895, "split": "train|restval|val|
test", "sentences": [{"raw": "A man ..."}, ...]}]}``. Training yields one sample per (image,
caption) pair; val/test one sample per image carrying all its references as ``captions``, which
the ``bleu4``/``cider`` metrics score ``generated_text`` against. Region features are keyed by
``feature_key`` (default: the COCO image id); with ``extract.enabled`` the builder extracts
missing ones from the images (``mmf_imgtune.data.extraction``).
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.annotated import AnnotatedDataset, existing_paths
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.extraction import extract_missing, extraction_enabled, given_boxes
from mmf_imgtune.io.annotations import AnnotationError, check_field, read_json_object
from mmf_imgtune.registry import registry

SOURCE = (
    "The Karpathy split json (dataset_coco.json) is in "
    "https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip; the images "
    "are COCO 2014 train/val from https://cocodataset.org."
)


def load_karpathy(path: str, karpathy_splits: list[str]) -> list[dict]:
    """Images of the given Karpathy splits as ``{cocoid, filepath, filename, captions}``."""
    error = "not a Karpathy split json with an 'images' list"
    images = read_json_object(path, "images", error)["images"]
    records = []
    for number, image in enumerate(images):
        if not isinstance(image, dict):
            raise AnnotationError(f"{path}: images[{number}] is not an object")
        if image.get("split") not in karpathy_splits:
            continue
        try:
            where = f"{path}: images[{number}]"
            captions = [
                check_field(sentence, "raw", "text", f"{where}.sentences").strip()
                for sentence in image["sentences"]
            ]
            records.append(
                {
                    "cocoid": int(image.get("cocoid", image.get("imgid"))),
                    "filepath": image.get("filepath", ""),
                    "filename": image["filename"],
                    "captions": captions,
                }
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AnnotationError(
                f"{path}: images[{number}] lacks {error} (needs filename, cocoid, sentences[].raw)"
            ) from None
    return records


def load_images(config: DictConfig, split: str) -> list[dict]:
    """The images of the Karpathy splits that make ``split`` (``karpathy_splits.<split>``)."""
    splits = list(config.karpathy_splits[split])
    images = []
    for path in existing_paths(config, "annotations", split, "coco", SOURCE):
        images += load_karpathy(path, splits)
    if not images:
        raise AnnotationError(
            f"no image of Karpathy split(s) {splits} (dataset_config.coco.karpathy_splits."
            f"{split}) in dataset_config.coco.annotations.{split}"
        )
    return images


class CocoCaptionsDataset(AnnotatedDataset):
    def __init__(self, config: DictConfig, dataset_type: str):
        images = load_images(config, dataset_type)
        if dataset_type == "train":
            # One sample per caption: every reference is a training target.
            records = [{**image, "caption": c} for image in images for c in image["captions"]]
        else:
            records = [{**image, "caption": image["captions"][0]} for image in images]
        super().__init__("coco", config, dataset_type, records)

    def record_id(self, record: dict) -> Any:
        return record["cocoid"]

    def feature_key(self, record: dict) -> str:
        return str(self.config.feature_key).format(**record)

    def image_file(self, record: dict) -> str:
        return str(self.config.image_file).format(**record)

    def get_sample(self, record: dict) -> Sample:
        text = {"text": str(self.config.prompt), "answer": record["caption"]}
        sample = Sample(self.text_processor(text))
        sample.id = torch.tensor(record["cocoid"], dtype=torch.long)
        sample.captions = list(record["captions"])
        return sample

    def format_for_prediction(self, report: Any) -> list[dict[str, Any]]:
        """COCO caption results rows: ``image_id`` and ``caption`` (needs ``generated_text``)."""
        if "generated_text" not in report:
            raise KeyError(
                "coco predictions need the model output 'generated_text' (a captioning model "
                "such as imgtune with generation on); this model gave "
                f"{sorted(k for k in report.keys())}"
            )
        ids = report["id"].tolist()
        return [
            {"image_id": int(i), "caption": text} for i, text in zip(ids, report["generated_text"])
        ]


@registry.register_builder("coco")
class CocoCaptionsBuilder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__("coco")

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/coco/defaults.yaml"

    def build(self, config: DictConfig, split: str) -> None:
        """With ``extract.enabled``: extract the features the split lacks from its images."""
        if extraction_enabled(config):
            images = {
                str(config.feature_key).format(**r): str(config.image_file).format(**r)
                for r in load_images(config, split)
            }
            extract_missing(config, "coco", split, images, given_boxes(config, "coco", images))

    def load(self, config: DictConfig, split: str) -> CocoCaptionsDataset:
        return CocoCaptionsDataset(config, split)
