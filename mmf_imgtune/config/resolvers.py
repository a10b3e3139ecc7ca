"""Config resolvers for data folders: a required key, and counts read from a jsonl folder.

    data_dir: ${required:dataset_config.image_text_jsonl.data_dir}
    num_labels: ${jsonl_num_labels:${dataset_config.image_text_jsonl.data_dir}}
    num_answers: ${jsonl_num_answers:${dataset_config.image_text_jsonl.data_dir}}

``required`` fires only while the key still holds it (an override replaces the whole value)
and fails with one line naming the key and what to type. ``jsonl_num_labels`` is the number of
lines of the folder's ``labels.txt`` (class names, one a line) or else the largest ``label`` of
its ``train/val/test.jsonl`` + 1 (0 when no line has a label); ``jsonl_num_answers`` the number
of distinct answers of ``train.jsonl`` (normalised as VQA accuracy does). Registered when
``mmf_imgtune.config`` is imported (``build_config`` needs it).
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from mmf_imgtune.config.checks import ConfigError

SPLIT_FILES = ("train.jsonl", "val.jsonl", "test.jsonl")


def required(key: str) -> str:
    raise ConfigError(
        f"{key} is required: give it on the command line ({key}=PATH for mmf_run, "
        f"--set {key}=PATH for mmf_imgtune_bench)"
    )


def _lines(path: Path):
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ConfigError(f"{path}:{number}: not a json line ({error.msg})") from None


def _folder(data_dir: str) -> Path:
    folder = Path(str(data_dir)).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"data folder '{data_dir}' does not exist: give the folder holding train.jsonl, "
            "val.jsonl, test.jsonl and images/ (docs/datasets.md)"
        )
    return folder


def jsonl_num_labels(data_dir: str) -> int:
    folder = _folder(data_dir)
    names = folder / "labels.txt"
    if names.is_file():
        return sum(1 for line in names.read_text(encoding="utf-8").splitlines() if line.strip())
    largest = -1
    for name in SPLIT_FILES:
        if (folder / name).is_file():
            for record in _lines(folder / name):
                if isinstance(record.get("label"), int):
                    largest = max(largest, record["label"])
    return largest + 1


def jsonl_num_answers(data_dir: str) -> int:
    # Lazily: config sits below data (layers, docs/architecture.md)
    from mmf_imgtune.modules.vqa_eval import normalize_answer

    path = _folder(data_dir) / "train.jsonl"
    if not path.is_file():
        return 0
    answers = {normalize_answer(a) for r in _lines(path) for a in r.get("answers") or []}
    return len(answers)


# omegaconf 2.4 renamed register_new_resolver to register_resolver (same behaviour).
_register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver
for _name, _resolver in (
    ("required", required),
    ("jsonl_num_labels", jsonl_num_labels),
    ("jsonl_num_answers", jsonl_num_answers),
):
    if not OmegaConf.has_resolver(_name):
        _register(_name, _resolver)
