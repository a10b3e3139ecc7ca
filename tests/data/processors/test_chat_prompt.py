"""``chat_prompt``: keys inherited from an llm_prompt config fail instead of being ignored."""

import pytest

from mmf_imgtune.data.processors import build_processor

TOKENIZER = {"word_level": {"words": ["what", "is", "it", "red", "user", "assistant"]}}


def _spec(**params):
    return {
        "type": "chat_prompt",
        "params": {"tokenizer": TOKENIZER, "max_seq_length": 16, **params},
    }


def test_builds_without_llm_prompt_keys():
    assert build_processor(_spec()).max_seq_length == 16


@pytest.mark.parametrize("key", ["prompt_template", "answer_prefix", "add_bos"])
def test_an_inherited_llm_prompt_key_raises_naming_it(key):
    with pytest.raises(KeyError, match=f"chat_prompt params \\['{key}'\\] are llm_prompt's"):
        build_processor(_spec(**{key: "question: {text}"}))


def test_an_inherited_key_set_to_null_is_dropped():
    assert build_processor(_spec(prompt_template=None)).max_seq_length == 16
