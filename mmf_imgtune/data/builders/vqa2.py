"""``vqa2``: VQA v2 (Goyal et al. 2017) from the released json files or MMF's imdb ``.npy``.

Each entry of ``dataset_config.vqa2.annotations.<split>`` is either

* ``{questions: <questions json>, annotations: <annotations json or null>}``, the files as
  released (``{"questions": [{question_id, image_id, question}]}`` and ``{"annotations":
  [{question_id, answers: [{answer}...] x10, multiple_choice_answer}]}``; test has no
  annotations), or
* a path to MMF's imdb ``.npy`` (``question_id``, ``image_id``, ``image_name``,
  ``question_str``, ``answers``/``all_answers``, ``feature_path``), read through the restricted
  unpickler, or a ``.jsonl`` with the same fields.

Targets are MMF's soft scores (the official VQA accuracy of each answer, leave-one-out over
the 10 annotators: ``modules/vqa_eval.py``) over the answer vocabulary
(``mmf_imgtune.data.answers``): MMF's ``answers_vqa.txt`` when present, otherwise the top
``num_answers`` answers of the train split, written there by ``build``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.annotated import AnnotatedDataset
from mmf_imgtune.data.answers import AnswerVocab, drop_or_count_uncovered
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.extraction import extract_missing, extraction_enabled, given_boxes
from mmf_imgtune.io.annotations import (
    AnnotationError,
    check_field,
    load_annotations,
    read_json_object,
)
from mmf_imgtune.modules.vqa_eval import normalize_answer
from mmf_imgtune.registry import registry

SOURCE = (
    "VQA v2 questions/annotations come from https://visualqa.org/download.html (or MMF's "
    "imdb .npy files); put them under dataset_config.vqa2.data_dir."
)


def _abs(config: DictConfig, path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(str(config.data_dir), path)


def _load_json_pair(config: DictConfig, entry: Any, key: str) -> list[dict]:
    questions_path = BaseDatasetBuilder.require_file(
        _abs(config, entry["questions"]), f"{key}.questions", SOURCE
    )
    content = read_json_object(
        questions_path, "questions", "no 'questions' list; is this a VQA questions file?"
    )
    # "train2014" etc.: gives COCO file names COCO_train2014_000000458752
    subtype = content.get("data_subtype", "")
    answers: dict[int, dict] = {}
    if entry.get("annotations"):
        annotations_path = BaseDatasetBuilder.require_file(
            _abs(config, entry["annotations"]), f"{key}.annotations", SOURCE
        )
        released = read_json_object(
            annotations_path,
            "annotations",
            "no 'annotations' list; is this a VQA annotations file?",
        )
        for number, item in enumerate(released["annotations"]):
            where = f"{annotations_path}: annotations[{number}]"
            if not isinstance(item, dict) or not isinstance(item.get("answers"), list):
                raise AnnotationError(f"{where}: needs 'question_id' and an 'answers' list")
            answers[int(check_field(item, "question_id", "int", where))] = item
    if not content["questions"]:
        raise AnnotationError(f"{questions_path}: the 'questions' list is empty")
    records = []
    for number, question in enumerate(content["questions"]):
        where = f"{questions_path}: questions[{number}]"
        if not isinstance(question, dict):
            raise AnnotationError(f"{where}: not an object")
        image_id = check_field(question, "image_id", "int", where)
        record = {
            "question_id": check_field(question, "question_id", "int", where),
            "image_id": image_id,
            "image_name": f"COCO_{subtype}_{image_id:012d}",
            "question": check_field(question, "question", "text", where),
        }
        annotation = answers.get(record["question_id"])
        if answers and annotation is None:
            raise AnnotationError(
                f"{key}: question {record['question_id']} of {questions_path} has no entry in "
                f"the annotations file; are the questions and annotations of the same split?"
            )
        if annotation is not None:
            where = f"{annotations_path}: question {record['question_id']}"
            record["answers"] = [
                check_field(a, "answer", "text", where) for a in annotation["answers"]
            ]
            record["answer"] = annotation.get("multiple_choice_answer")
        records.append(record)
    return records


def _from_imdb(item: dict) -> dict:
    record = {
        "question_id": int(item["question_id"]),
        "image_id": int(item.get("image_id", -1)),
        "image_name": item.get("image_name", ""),
        "question": item.get("question_str") or item.get("question"),
    }
    # MMF's feature_path "COCO_train2014_000000458752.npy" is the features' key.
    if item.get("feature_path"):
        record["feature_key"] = os.path.splitext(item["feature_path"])[0]
    answers = item.get("all_answers") or item.get("answers")
    if answers:
        record["answers"] = [str(a) for a in answers]
    return record


def load_vqa_records(config: DictConfig, split: str) -> list[dict]:
    """Every question of ``split`` as ``{question_id, image_id, image_name, question,
    answers?, answer?, feature_key?}``."""
    key = f"dataset_config.vqa2.annotations.{split}"
    entries = (config.get("annotations") or {}).get(split)
    if not entries:
        raise KeyError(f"{key} is not set: list the questions/annotations files of '{split}'")
    entries = entries if isinstance(entries, (list, ListConfig)) else [entries]
    records: list[dict] = []
    for entry in entries:
        if isinstance(entry, str):
            path = BaseDatasetBuilder.require_file(_abs(config, entry), key, SOURCE)
            records += [_from_imdb(item) for item in load_annotations(path)]
        else:
            records += _load_json_pair(config, entry, key)
    for record in records:
        if "answers" in record and not record.get("answer"):
            record["answer"] = Counter(record["answers"]).most_common(1)[0][0]
    return records


def answer_vocab(config: DictConfig, write: bool = False) -> AnswerVocab:
    """MMF's vocabulary file if present, else the train split's top ``num_answers``."""
    path = _abs(config, str(config.answer_vocab_file))
    if os.path.isfile(path):
        vocab = AnswerVocab.load(path)
    else:
        train = [r["answers"] for r in load_vqa_records(config, "train") if "answers" in r]
        if not train:
            raise KeyError(
                f"cannot build the answer vocabulary: the train annotations have no answers and "
                f"dataset_config.vqa2.answer_vocab_file ({path}) does not exist"
            )
        vocab = AnswerVocab.from_answer_lists(train, int(config.num_answers))
        if write:
            vocab.save(path)
    if len(vocab) > int(config.num_answers):
        raise ValueError(
            f"{path} has {len(vocab)} answers but dataset_config.vqa2.num_answers is "
            f"{config.num_answers}; set num_answers={len(vocab)} (the model's output size)"
        )
    return vocab


class VQA2Dataset(AnnotatedDataset):
    def __init__(self, config: DictConfig, dataset_type: str):
        self.vocab = answer_vocab(config)
        self.num_answers = int(config.num_answers)
        records = load_vqa_records(config, dataset_type)
        records = drop_or_count_uncovered(records, self.vocab, config, "vqa2", dataset_type)
        super().__init__("vqa2", config, dataset_type, records)

    def record_id(self, record: dict) -> Any:
        return record["question_id"]

    def feature_key(self, record: dict) -> str:
        return record.get("feature_key") or str(self.config.feature_key).format(**record)

    def image_file(self, record: dict) -> str:
        return str(self.config.image_file).format(**record)

    def get_sample(self, record: dict) -> Sample:
        text = {"text": record["question"], "answer": record.get("answer")}
        sample = Sample(self.text_processor(text))
        sample.id = torch.tensor(record["question_id"], dtype=torch.long)
        if "answers" in record:
            scores = torch.zeros(self.num_answers)
            # Vocabularies smaller than num_answers (tiny data) leave the tail classes at 0.
            scores[: len(self.vocab)] = self.vocab.soft_scores(record["answers"])
            sample.targets = scores
            sample.answers = [normalize_answer(a) for a in record["answers"]]
        return sample

    def format_for_prediction(self, report: Any) -> list[dict[str, Any]]:
        """The VQA evaluation server's rows: ``question_id`` and ``answer``."""
        predicted = report["scores"].detach().argmax(dim=1).tolist()
        ids = report["id"].tolist()
        answers = self.vocab.answers
        return [
            {"question_id": int(i), "answer": answers[p] if p < len(answers) else ""}
            for i, p in zip(ids, predicted)
        ]


@registry.register_builder("vqa2")
class VQA2Builder(BaseDatasetBuilder):
    def __init__(self):
        super().__init__("vqa2")

    @classmethod
    def config_path(cls) -> str:
        return "configs/datasets/vqa2/defaults.yaml"

    def build(self, config: DictConfig, split: str) -> None:
        # Once, on local rank 0: write the vocabulary so every process reads the same file.
        if split == "train":
            answer_vocab(config, write=True)
        if extraction_enabled(config):  # features the split lacks, from its images
            images = {}
            for record in load_vqa_records(config, split):
                key = record.get("feature_key") or str(config.feature_key).format(**record)
                images[key] = str(config.image_file).format(**record)
            extract_missing(config, "vqa2", split, images, given_boxes(config, "vqa2", images))

    def load(self, config: DictConfig, split: str) -> VQA2Dataset:
        return VQA2Dataset(config, split)
