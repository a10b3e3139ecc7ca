"""``shapes``: the built-in synthetic scenes (generator in ``mmf_imgtune.data.shapes``).

``build(config, split)`` generates the split on first use (deterministic, idempotent) and
extracts its region features with ``mmf_imgtune.regions.extract_features`` over the
ground-truth boxes, so the same feature path as real data is exercised. ``load`` serves one of
four tasks (``dataset_config.shapes.task``):

- ``vqa``: one item per question; ``targets`` soft scores (num_answers,), ``answers`` (10),
  ``question_family``;
- ``caption``: one item per image; text = ``caption_prompt``, answer = a reference caption,
  ``captions`` = all references;
- ``classification``: one item per statement; ``targets`` long 0/1 (is it true?);
- ``retrieval``: one item per image; text = a caption, ``targets`` = the image's index;
- ``dialogue``: one item per image, a multi-turn conversation (``shapes/dialogues.py``) for the
  ``chat_prompt`` processor; ``dialogue_single_turn``: one item per turn, without its history.

The text processor gets ``{"text": ..., "answer": ...}`` (``text_tokenizer`` ignores the
answer; ``llm_prompt`` learns it). See docs/shapes.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.annotated import feature_reader
from mmf_imgtune.data.answers import AnswerVocab
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.base_dataset import BaseDataset
from mmf_imgtune.data.shapes.dialogues import dialogue_rng, make_dialogue, to_conversation
from mmf_imgtune.data.shapes.features import ensure_features, feature_dir, features_ready
from mmf_imgtune.data.shapes.generate import (
    SplitSettings,
    generate_split,
    is_current,
    load_split,
)
from mmf_imgtune.data.shapes.vocab import ANSWERS
from mmf_imgtune.registry import registry

TASKS = ("vqa", "caption", "classification", "retrieval", "dialogue")


def split_settings(config: DictConfig, split: str) -> SplitSettings:
    """The generator settings of ``split`` from ``dataset_config.shapes``."""
    if split not in config.sizes:
        raise KeyError(
            f"dataset_config.shapes.sizes has no split '{split}' (has {list(config.sizes)}); "
            f"add dataset_config.shapes.sizes.{split}=<images>"
        )
    return SplitSettings(
        split=split,
        size=int(config.sizes[split]),
        seed=int(config.seed),
        image_size=int(config.image_size),
        min_objects=int(config.min_objects),
        max_objects=int(config.max_objects),
    )


def _items(records: list[dict], task: str, config: DictConfig) -> list[tuple[dict, Any]]:
    """(image record, task item) pairs: one per question, statement, image or turn."""
    if task == "dialogue" and bool(config.dialogue_single_turn):
        return [(r, k) for r in records for k in range(int(config.dialogue_turns))]
    if task == "vqa":
        return [(r, q) for r in records for q in r["questions"]]
    if task == "classification":
        return [(r, s) for r in records for s in r["statements"]]
    return [(r, None) for r in records]


class ShapesDataset(BaseDataset):
    """Items of one split for ``config.task``; see the module docstring for the fields."""

    def __init__(self, config: DictConfig, dataset_type: str):
        super().__init__("shapes", config, dataset_type)
        self.task = str(config.task)
        if self.task not in TASKS:
            raise ValueError(
                f"dataset_config.shapes.task={self.task!r} is not one of {TASKS}; pick one"
            )
        self.init_processors()
        self.settings = split_settings(config, dataset_type)
        if not is_current(self.data_dir, self.settings):
            raise FileNotFoundError(
                f"shapes split '{dataset_type}' is not generated with these settings in "
                f"{self.data_dir} ({self.settings}); run the builder's build(config, "
                f"'{dataset_type}') first (mmf_run does; or python -m mmf_imgtune.cli.shapes)"
            )
        self.records = load_split(self.data_dir, dataset_type)
        self.items = _items(self.records, self.task, config)
        self.answer_vocab = AnswerVocab(ANSWERS)
        self.num_answers = int(config.num_answers)
        if self.num_answers < len(ANSWERS):
            raise ValueError(
                f"dataset_config.shapes.num_answers={self.num_answers} is smaller than the "
                f"{len(ANSWERS)} answers of the generator; set it to {len(ANSWERS)}"
            )
        self.use_features = bool(config.use_features)
        self.max_features = int(config.max_features)
        if self.use_features and self.max_features < int(config.max_objects):
            raise ValueError(
                f"dataset_config.shapes.max_features={self.max_features} would drop objects "
                f"(max_objects={config.max_objects}); set max_features >= max_objects"
            )
        if self.use_features and not features_ready(config, dataset_type):
            raise FileNotFoundError(
                f"shapes: no complete region features of '{dataset_type}' in "
                f"{feature_dir(config)}; run the builder's build(config, '{dataset_type}') "
                "first (mmf_run does; or python -m mmf_imgtune.cli.shapes), or set "
                "dataset_config.shapes.use_features=false"
            )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Train captions are drawn per (seed, epoch, index): a new epoch, new references."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def _caption(self, record: dict, index: int) -> str:
        captions = record["captions"]
        if self.dataset_type != "train":
            return captions[0]  # evaluation sees a fixed text
        rng = np.random.default_rng([int(self.config.seed), self.epoch, index])
        return captions[int(rng.integers(len(captions)))]

    def _text(self, record: dict, item: Any, index: int) -> Sample:
        if self.task == "vqa":
            text = {"text": item["question"], "answer": item["answer"]}
        elif self.task == "classification":
            text = {"text": item["statement"], "answer": None}
        elif self.task == "caption":
            text = {"text": str(self.config.caption_prompt), "answer": self._caption(record, index)}
        elif self.task == "dialogue":
            text = {"id": record["id"], "conversations": self.conversation(record, item)}
        else:
            text = {"text": self._caption(record, index), "answer": None}
        return Sample(self.text_processor(text))

    def dialogue(self, record: dict) -> list[dict]:
        """The image's dialogue turns (train: drawn anew each epoch; evaluation: fixed)."""
        epoch = self.epoch if self.dataset_type == "train" else 0
        rng = dialogue_rng(int(self.config.seed), epoch, int(record["id"]))
        return make_dialogue(record["objects"], rng, int(self.config.dialogue_turns))

    def conversation(self, record: dict, turn: int | None = None) -> list[dict]:
        """LLaVA ``conversations`` of the image (only turn ``turn``, history dropped, when
        given: single-turn training)."""
        dialogue = self.dialogue(record)
        return to_conversation(dialogue if turn is None else dialogue[turn : turn + 1])

    def __getitem__(self, index: int) -> Sample:
        record, item = self.items[index]
        sample = self._text(record, item, index)
        sample.image_path = self.resolve_path(record["image"])
        if self.task == "vqa":
            sample.id = torch.tensor(item["question_id"], dtype=torch.long)
            scores = torch.zeros(self.num_answers)
            scores[: len(self.answer_vocab)] = self.answer_vocab.soft_scores(item["answers"])
            sample.targets = scores
            sample.answers = list(item["answers"])
            sample.question_family = item["family"]
        elif self.task == "classification":
            sample.id = torch.tensor(item["statement_id"], dtype=torch.long)
            sample.targets = torch.tensor(item["label"], dtype=torch.long)
        else:
            sample.id = torch.tensor(record["id"], dtype=torch.long)
            sample.captions = list(record["captions"])
            if self.task == "retrieval":
                sample.targets = torch.tensor(record["id"], dtype=torch.long)
        if self.use_features:
            reader = feature_reader(feature_dir(self.config), self.max_features)
            sample.image_feature_0, sample.image_info_0 = reader.read(record["feature_key"])
        return sample

    def format_for_prediction(self, report: Any) -> list[dict[str, Any]]:
        """vqa: ``{question_id, answer}``; other tasks: ``BaseDataset``'s ``{id, label,
        confidence}`` (classification) or the id with the generated text when present."""
        if self.task == "vqa":
            predicted = report["scores"].detach().argmax(dim=1).tolist()
            answers = self.answer_vocab.answers
            return [
                {"question_id": int(i), "answer": answers[p] if p < len(answers) else ""}
                for i, p in zip(report["id"].tolist(), predicted)
            ]
        if "generated_text" in report:
            ids = report["id"].tolist()
            return [{"id": int(i), "caption": t} for i, t in zip(ids, report["generated_text"])]
        return super().format_for_prediction(report)


@registry.register_builder("shapes")
class ShapesBuilder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__("shapes")

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/shapes/defaults.yaml"

    def build(self, config: DictConfig, split: str, progress: bool = True) -> None:
        """Generate ``split`` (skipped when present with the same settings), then extract its
        region features (skipped when complete) when ``use_features``."""
        generate_split(str(config.data_dir), split_settings(config, split), progress)
        if bool(config.use_features):
            records = load_split(str(config.data_dir), split)
            ensure_features(config, split, records, progress)

    def load(self, config: DictConfig, split: str) -> ShapesDataset:
        return ShapesDataset(config, split)

    def feature_stores(self, config: DictConfig, split: str) -> list[tuple[str, str]]:
        if not bool(config.use_features):
            return []
        return [(feature_dir(config), "dataset_config.shapes.extract.variant")]
