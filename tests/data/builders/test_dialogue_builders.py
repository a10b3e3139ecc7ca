"""Multi-turn conversations from files: ``image_text_jsonl`` lines and LLaVA's json lists."""

import json

import pytest
from mmf_layouts import collate, load_split, write_image, write_jsonl

from mmf_imgtune.io.annotations import AnnotationError

WORDS = ["what", "colour", "is", "the", "cat", "?", "red", "and", "how", "many", "two",
         "user", "assistant", ":"]  # fmt: skip
TOKENIZER = "{word_level: {words: [" + ", ".join(f"'{w}'" for w in WORDS) + "]}}"
CONVERSATION = [
    {"from": "human", "value": "<image>\nwhat colour is the cat?"},
    {"from": "gpt", "value": "red"},
    {"from": "human", "value": "and how many?"},
    {"from": "gpt", "value": "two"},
]


def chat_overrides(name: str) -> list[str]:
    prefix = f"dataset_config.{name}.processors.text_processor"
    return [f"{prefix}.type=chat_prompt", f"{prefix}.params.tokenizer={TOKENIZER}",
            f"{prefix}.params.max_seq_length=24", f"dataset_config.{name}.use_features=false",
            f"dataset_config.{name}.use_images=true"]  # fmt: skip


def write_records(root, name: str, fmt: str) -> None:
    records = []
    for index in range(3):
        write_image(root / "images" / f"{index}.png", index)
        turns = CONVERSATION if index else CONVERSATION[:2]  # lines of 1 and 2 turns
        records.append({"id": f"c{index}", "image": f"{index}.png", "conversations": turns})
    for split in ("train", "val"):
        if fmt == "jsonl":
            write_jsonl(root / f"{split}.jsonl", records)
        else:  # LLaVA: one json list
            (root / f"{split}.json").write_text(json.dumps(records))


@pytest.mark.parametrize(("name", "fmt"), [("image_text_jsonl", "jsonl"), ("llava", "json")])
def test_conversation_lines_become_dialogue_samples(tmp_path, name, fmt):
    root = tmp_path / "data" / "datasets" / name
    write_records(root, name, fmt)
    paths = [f"dataset_config.{name}.annotations.{s}=[{name}/{s}.{fmt}]" for s in ("train", "val")]
    train = load_split(name, "train", *chat_overrides(name), *paths)
    assert train.kind == "conversations" and train.dataset_name == name
    batch = collate(train, range(3))
    assert batch.num_turns.tolist() == [1, 2, 2]
    assert batch.image.shape[0] == 3 and (batch.image_position == 2).all()  # after "user :"
    labelled = batch.labels[1][batch.labels[1] != -100].tolist()
    tokenizer = train.text_processor.tokenizer
    assert tokenizer.convert_ids_to_tokens(labelled) == ["red", "[EOS]", "two", "[EOS]"]


def test_a_malformed_conversation_names_the_line(tmp_path):
    root = tmp_path / "data" / "datasets" / "image_text_jsonl"
    write_image(root / "images" / "0.png", 0)
    bad = [CONVERSATION[0], CONVERSATION[0]]
    write_jsonl(root / "train.jsonl", [{"image": "0.png", "conversations": bad}])
    with pytest.raises(AnnotationError, match=r"train.jsonl:1: turn 2 is from 'user'"):
        load_split("image_text_jsonl", "train", *chat_overrides("image_text_jsonl"))
