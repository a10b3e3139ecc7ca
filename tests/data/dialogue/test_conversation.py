"""LLaVA conversations rendered with a chat template: the label mask turn by turn, the image
place, whole-turn truncation."""

import pytest
import torch

from mmf_imgtune.data.conversation import (
    ChatRenderer,
    ConversationError,
    parse_conversation,
    with_image,
)
from mmf_imgtune.data.processors.chat_prompt import ChatPromptProcessor
from mmf_imgtune.data.tokenizers import build_tokenizer, word_level_tokenizer

WORDS = ["what", "colour", "is", "the", "circle", "?", "red", "and", "how", "many", "2", "3",
         "user", "assistant", ":", "system", "you", "look"]  # fmt: skip
TOKENIZER = {"word_level": {"words": WORDS}}
LLAVA = [
    {"from": "human", "value": "<image>\nwhat colour is the circle?"},
    {"from": "gpt", "value": "red"},
    {"from": "human", "value": "and how many?"},
    {"from": "gpt", "value": "2"},
    {"from": "human", "value": "and how many?"},
    {"from": "gpt", "value": "3"},
]
# A ChatML template (Qwen/SmolLM style) whose end-of-turn token is not EOS.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def words(tokenizer, ids):
    return [tokenizer.convert_ids_to_tokens(i) for i in ids]


def test_parse_accepts_llava_and_chat_keys_and_names_bad_turns():
    messages = parse_conversation(LLAVA)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert parse_conversation([{"role": "user", "content": "hi"}])[0]["content"] == "hi"
    with pytest.raises(ConversationError, match="turn 2 is from 'user'"):
        parse_conversation([LLAVA[0], LLAVA[0]])
    with pytest.raises(ConversationError, match="turn 1 needs 'from'"):
        parse_conversation([{"from": "robot", "value": "x"}])
    added = with_image([{"role": "user", "content": "what?"}])
    assert added[0]["content"].startswith("<image>")
    with pytest.raises(ConversationError, match="2 '<image>'"):
        with_image([{"role": "user", "content": "<image> <image>"}])


@pytest.mark.parametrize(("template", "stop"), [(None, None), (CHATML, "<|im_end|>")])
def test_labels_cover_each_answer_and_its_stop_token_only(template, stop):
    tokenizer = word_level_tokenizer(WORDS)
    if template is not None:  # a chat model's tokenizer has its markers as special tokens
        tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", stop]})
    renderer = ChatRenderer(tokenizer, template, stop)
    encoded = renderer.encode(parse_conversation(LLAVA))
    stop_word = stop or tokenizer.eos_token
    # Turn by turn: exactly the answer word and the stop token are labelled, with their turn.
    for turn, answer in enumerate(["red", "2", "3"]):
        positions = [i for i, t in enumerate(encoded.turns) if t == turn]
        assert words(tokenizer, [encoded.ids[i] for i in positions]) == [answer, stop_word]
        assert [encoded.labels[i] for i in positions] == [encoded.ids[i] for i in positions]
        assert positions == list(range(positions[0], positions[0] + 2))  # contiguous
    unlabelled = [i for i, t in enumerate(encoded.turns) if t < 0]
    assert all(encoded.labels[i] == -100 for i in unlabelled)
    assert len(unlabelled) + 6 == len(encoded.ids)
    # The image goes where <image> was: after the user header, before the question.
    before = words(tokenizer, encoded.ids[: encoded.image_position])
    assert before == (["user", ":"] if template is None else ["<|im_start|>", "user"])
    assert tokenizer.convert_ids_to_tokens(encoded.ids[encoded.image_position]) == "what"


def test_generation_prompt_is_a_prefix_of_the_answered_conversation():
    renderer = ChatRenderer(build_tokenizer(TOKENIZER))
    messages = parse_conversation(LLAVA)
    prompt = renderer.encode(messages[:3], add_generation_prompt=True)
    full = renderer.encode(messages[:4])
    assert full.ids[: len(prompt.ids)] == prompt.ids
    assert full.turns[len(prompt.ids)] == 1  # the next token is the answer of turn 2


def test_long_conversations_lose_whole_trailing_turns_with_a_count(caplog):
    params = {"tokenizer": TOKENIZER, "max_seq_length": 40}
    full = ChatPromptProcessor(params)({"conversations": LLAVA})
    assert int(full["num_turns"]) == 3 and int(full["truncated_turns"]) == 0
    used = int(full["input_mask"].sum())
    short = ChatPromptProcessor({**params, "max_seq_length": used - 1})
    with caplog.at_level("WARNING"):
        out = short({"conversations": LLAVA})
    assert int(out["num_turns"]) == 2 and int(out["truncated_turns"]) == 1
    assert "1 assistant turn(s) dropped" in caplog.text and short.dropped_turns == 1
    # What is kept is the full rendering of the first two exchanges, token for token.
    kept = int(out["input_mask"].sum())
    assert torch.equal(out["input_ids"][:kept], full["input_ids"][:kept])
    assert set(out["answer_turn"].tolist()) == {-1, 0, 1}
    assert (out["labels"][kept:] == -100).all() and (out["answer_turn"][kept:] == -1).all()
    with pytest.raises(ConversationError, match="first exchange alone"):
        ChatPromptProcessor({**params, "max_seq_length": 4})({"conversations": LLAVA})
