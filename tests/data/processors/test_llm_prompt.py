"""``llm_prompt``: labels only on answer + EOS, left-padded prompts, truncation keeps the cue."""

import pytest
import torch

from mmf_imgtune.data.processors import build_processor

TOKENIZER = {"word_level": {"words": ["question", "answer", "what", "is", "it", "red", "blue"]}}


def _processor(**params):
    spec = {
        "tokenizer": TOKENIZER,
        "max_seq_length": 10,
        "prompt_template": "question: {text} answer:",
        **params,
    }
    return build_processor({"type": "llm_prompt", "params": spec})


def test_prompt_answer_layout():
    processor = _processor()
    tok = processor.tokenizer
    out = processor({"text": "what is it", "answer": "red"})
    prompt = tok("question: what is it answer:", add_special_tokens=False)["input_ids"]
    answer = [tok.convert_tokens_to_ids("red"), tok.eos_token_id]
    n = len(prompt) + len(answer)
    assert out["input_ids"][:n].tolist() == prompt + answer
    assert (out["input_ids"][n:] == tok.pad_token_id).all()
    assert out["input_mask"].tolist() == [1] * n + [0] * (10 - n)
    assert out["labels"].tolist() == [-100] * len(prompt) + answer + [-100] * (10 - n)
    assert out["prompt_ids"][-len(prompt) :].tolist() == prompt
    assert out["prompt_mask"].tolist() == [0] * (10 - len(prompt)) + [1] * len(prompt)
    assert out["text"] == "question: what is it answer:" and out["answer"] == "red"


def test_no_answer_and_bos():
    processor = _processor(add_bos=True)
    out = processor({"text": "what is it", "answer": None})
    assert (out["labels"] == -100).all()
    assert out["input_ids"][0] == processor.tokenizer.bos_token_id
    assert torch.equal(out["input_mask"].sum(), out["prompt_mask"].sum())


def test_truncation_keeps_prompt_end_and_answer():
    processor = _processor(max_seq_length=5)
    out = processor({"text": "what is it what is it", "answer": "blue"})
    tok = processor.tokenizer
    assert out["input_ids"].shape == (5,)
    ids = out["input_ids"].tolist()
    assert ids[-2:] == [tok.convert_tokens_to_ids("blue"), tok.eos_token_id]
    assert ids[-3] == tok.convert_tokens_to_ids(":")  # the end of the prompt ("answer:") is kept


def test_missing_params_name_them():
    with pytest.raises(KeyError, match="max_seq_length"):
        build_processor({"type": "llm_prompt", "params": {"tokenizer": TOKENIZER}})
