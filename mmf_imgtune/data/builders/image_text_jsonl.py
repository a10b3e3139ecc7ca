"""``image_text_jsonl``: any folder of images plus a jsonl of ``{image, text, <target>}``.

The quickest way to bring your own data: one jsonl per split, each line
``{"id": ..., "image": "cats/001.jpg", "text": "...", <target>}`` where the target is one of

* ``"label": 3`` -> ``targets`` class id (classification, ``cross_entropy``);
* ``"answers": ["two", "2", ...]`` -> VQA soft scores over the train split's top
  ``num_answers`` answers (``logit_bce``, ``vqa_accuracy``), plus ``answers``;
* ``"caption": "..."`` (or a list of references) -> ``captions`` and the target ``answer``;
* ``"conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", ...}, ...]``
  (LLaVA's multi-turn format, no ``text`` needed) -> the ``chat_prompt`` processor's tensors.

A line may also carry ``"boxes": [[x1, y1, x2, y2], ...]`` (pixels), pooled when
``extract.boxes: annotations``. Region features are keyed by the image path without its
extension (``cats/001``) and, when missing, extracted by ``build`` (rank 0, once) with
``mmf_imgtune.regions.extract_features`` into the first ``features.<split>`` path, using the
``extract`` options: given boxes, a grid (the default without detector weights) or a detector
(``mmf_imgtune.data.extraction``).
"""

from __future__ import annotations

import os

import torch
from omegaconf import DictConfig

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.annotated import AnnotatedDataset, existing_paths
from mmf_imgtune.data.answers import AnswerVocab, drop_or_count_uncovered
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.conversation import ConversationError, parse_conversation
from mmf_imgtune.data.extraction import boxes_of_record, extract_missing, given_boxes
from mmf_imgtune.io.annotations import AnnotationError, check_field, load_annotations
from mmf_imgtune.modules.vqa_eval import normalize_answer
from mmf_imgtune.registry import registry

NAME = "image_text_jsonl"
SOURCE = "Write one jsonl per split with lines {image, text, label|answers|caption}."
TARGETS = ("label", "answers", "caption", "conversations")


def load_records(config: DictConfig, split: str, name: str = NAME) -> list[dict]:
    """The split's jsonl lines, checked to carry ``image``, ``text`` and one target kind."""
    records: list[dict] = []
    for path in existing_paths(config, "annotations", split, name, SOURCE):
        for number, record in enumerate(load_annotations(path), start=1):
            if "image" not in record or ("text" not in record and "conversations" not in record):
                raise AnnotationError(
                    f"{path}:{number}: a line needs 'image' and 'text' (or 'conversations')"
                )
            where = f"{path}:{number}"
            check_field(record, "image", "text", where)
            if "conversations" in record:
                try:
                    parse_conversation(record["conversations"], where)
                except ConversationError as error:
                    raise AnnotationError(str(error)) from None
            else:
                check_field(record, "text", "text", where)
            if "label" in record:
                classes = int(config.num_labels)
                record["label"] = check_field(record, "label", "label", where, classes)
            for key in ("answers", "caption"):
                if key in record:
                    record[key] = check_field(record, key, "texts", where)
            boxes_of_record(record, where)
            record.setdefault("id", f"{split}_{len(records)}")
            records.append(record)
    return records


def target_kind(records: list[dict], split: str) -> str | None:
    """Which target the records carry (None: unlabelled, e.g. a test split)."""
    kinds = {next((t for t in TARGETS if t in r), None) for r in records}
    if len(kinds) > 1:
        raise AnnotationError(
            f"{NAME}/{split}: lines mix target kinds {sorted(map(str, kinds))}; give every line "
            f"the same one of {list(TARGETS)}"
        )
    return kinds.pop()


def feature_key(record: dict) -> str:
    return os.path.splitext(record["image"])[0]


class ImageTextJsonlDataset(AnnotatedDataset):
    def __init__(self, config: DictConfig, dataset_type: str, name: str = NAME):
        records = load_records(config, dataset_type, name)
        self.kind = target_kind(records, dataset_type)
        self.num_answers = int(config.num_answers)
        if self.kind == "answers":
            train = load_records(config, "train", name)
            lists = [r["answers"] for r in train if "answers" in r]
            self.vocab = AnswerVocab.from_answer_lists(lists, self.num_answers)
            records = drop_or_count_uncovered(records, self.vocab, config, name, dataset_type)
        super().__init__(name, config, dataset_type, records)

    def feature_key(self, record: dict) -> str:
        return feature_key(record)

    def image_file(self, record: dict) -> str:
        return record["image"]

    def get_sample(self, record: dict) -> Sample:
        answer = None
        if self.kind == "answers":
            answer = max(set(record["answers"]), key=record["answers"].count)
        elif self.kind == "caption":
            captions = record["caption"]
            captions = [captions] if isinstance(captions, str) else list(captions)
            answer = captions[0]
        if self.kind == "conversations":
            item = {"id": record["id"], "conversations": record["conversations"]}
        else:
            item = {"text": record["text"], "answer": answer}
        sample = Sample(self.text_processor(item))
        ident = record["id"]
        sample.id = torch.tensor(ident) if isinstance(ident, int) else str(ident)
        if self.kind == "label":
            sample.targets = torch.tensor(int(record["label"]), dtype=torch.long)
        elif self.kind == "answers":
            scores = torch.zeros(self.num_answers)
            scores[: len(self.vocab)] = self.vocab.soft_scores(record["answers"])
            sample.targets = scores
            sample.answers = [normalize_answer(a) for a in record["answers"]]
        elif self.kind == "caption":
            sample.captions = captions
        return sample


@registry.register_builder(NAME)
class ImageTextJsonlBuilder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__(NAME)

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/image_text_jsonl/defaults.yaml"

    def build(self, config: DictConfig, split: str) -> None:
        """Extract the region features the split still lacks (features are written once)."""
        if not config.use_features:
            return
        name = self.dataset_name
        records = load_records(config, split, name)
        own = {feature_key(r): boxes_of_record(r, name) for r in records if "boxes" in r}
        images = {feature_key(r): r["image"] for r in records}
        extract_missing(config, name, split, images, given_boxes(config, name, images, own))

    def load(self, config: DictConfig, split: str) -> ImageTextJsonlDataset:
        return ImageTextJsonlDataset(config, split, self.dataset_name)
