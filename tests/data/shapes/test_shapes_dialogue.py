"""``shapes`` dialogues: later turns depend on earlier answers; the ``dialogue`` task."""

import numpy as np
import pytest
from omegaconf import OmegaConf
from shapes_helpers import find, tiny_config

from mmf_imgtune.data.shapes import all_words
from mmf_imgtune.data.shapes.dialogues import DIALOGUE_WORDS, make_dialogue
from mmf_imgtune.registry import registry


def reference_answers(objects, dialogue):
    """Answers read off the scene graph, the earlier turns resolving "that" and "do not"."""
    first, second = dialogue[0]["question"].rstrip("?").split(), dialogue[1]["question"]
    if first[:2] == ["what", "colour"]:
        obj = find(objects, shape=first[-1])
        assert len(obj) == 1  # asked only of a shape that occurs once
        same = len(find(objects, colour=obj[0]["colour"]))
        answers = [obj[0]["colour"], str(same)]
    elif first[:2] == ["what", "shape"]:
        obj = find(objects, colour=first[-2])
        assert len(obj) == 1
        same = len(find(objects, shape=obj[0]["shape"]))
        answers = [obj[0]["shape"], str(same)]
    else:
        shape = second.rstrip("?").split()[-1][:-1]  # "circles" -> "circle"
        same = len(find(objects, shape=shape))
        answers = [str(len(objects)), str(same)]
    return [*answers, str(len(objects) - same)]


def test_dialogue_answers_follow_the_scene_and_the_history():
    rng = np.random.default_rng(0)
    chains = set()
    for _ in range(300):
        count = int(rng.integers(1, 7))
        objects = [
            {"shape": str(rng.choice(["circle", "square", "triangle"])),
             "colour": str(rng.choice(["red", "blue", "green"]))}
            for _ in range(count)
        ]  # fmt: skip
        dialogue = make_dialogue(objects, rng)
        chains.add(dialogue[0]["chain"])
        assert [t["answer"] for t in dialogue] == reference_answers(objects, dialogue)
        # Later questions name neither the subject nor its attribute: they need the history.
        if dialogue[0]["chain"] != "count":
            assert dialogue[1]["question"].startswith("and how many objects share that ")
        assert dialogue[2]["question"] == "and how many do not?"
    assert chains == {"colour", "shape", "count"}
    with pytest.raises(ValueError, match="dialogue_turns=4"):
        make_dialogue(objects, rng, turns=4)


@pytest.fixture(scope="module")
def dialogue_config(tmp_path_factory):
    config = tiny_config(tmp_path_factory.mktemp("shapes"), task="dialogue", use_features=False)
    words = [*all_words(), *DIALOGUE_WORDS]
    config.processors.text_processor = {
        "type": "chat_prompt",
        "params": {"tokenizer": {"word_level": {"words": words}}, "max_seq_length": 48},
    }
    builder = registry.get_builder_class("shapes")()
    for split in ("train", "val"):
        builder.build(config, split, progress=False)
    return config, builder


def test_dialogue_task_serves_whole_conversations_or_single_turns(dialogue_config):
    config, builder = dialogue_config
    val = builder.load(config, "val")
    assert len(val) == config.sizes.val
    sample = val[0]
    tokenizer = val.text_processor.tokenizer
    answers = [t["answer"] for t in val.dialogue(val.records[0])]
    labelled = tokenizer.convert_ids_to_tokens(sample.labels[sample.labels != -100].tolist())
    assert labelled == [w for a in answers for w in (a, "[EOS]")]
    assert int(sample.num_turns) == 3 and int(sample.truncated_turns) == 0
    assert val.dialogue(val.records[0]) == val.dialogue(val.records[0])  # evaluation: fixed
    train = builder.load(config, "train")
    drawn = [train.dialogue(r) for r in train.records]
    train.set_epoch(1)
    assert drawn != [train.dialogue(r) for r in train.records]  # train: a new draw per epoch
    single = builder.load(OmegaConf.merge(config, {"dialogue_single_turn": True}), "val")
    assert len(single) == 3 * len(val)
    assert [int(single[k].num_turns) for k in range(3)] == [1, 1, 1]
    third = single[2]
    words = tokenizer.convert_ids_to_tokens(third.input_ids[third.input_mask.bool()].tolist())
    assert words[:9] == ["user", ":", "and", "how", "many", "do", "not", "?", "assistant"]
