"""Chat with the KV cache carried across turns: the same tokens as re-encoding every turn,
while only the new tokens are fed."""

import pytest
import torch
from dialogue_helpers import TOKENIZER, dialogue_batch
from imgtune_helpers import build

from mmf_imgtune.data.conversation import ChatRenderer
from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.inference.chat import ChatSession

QUESTIONS = ["what colour is it?", "and how many?", "and how many?"]


def chatty_model(fusion: str):
    model = build(fusion=fusion, tokenizer=TOKENIZER).eval()
    for name, param in model.named_parameters():
        if name.endswith("_gate"):
            param.data.fill_(0.5)  # open the cross-attention gates: the image matters
    # No special token wins (EOS, PAD, ...): answers run to max_new_tokens words.
    specials = model.tokenizer.all_special_ids
    model._hf_model().get_output_embeddings().weight.data[specials] = 0.0
    return model


def converse(model, reuse: bool, references: list[str] | None = None):
    """Answers of three turns, the tokens fed per LLM call, and the streamed pieces."""
    fed, pieces = [], []
    run_lm = model.run_lm

    def counting(embeds, *args, **kwargs):
        fed.append(embeds.size(1))
        return run_lm(embeds, *args, **kwargs)

    model.run_lm = counting
    renderer = ChatRenderer(build_tokenizer(TOKENIZER))
    session = ChatSession(model, renderer, max_new_tokens=5, reuse_cache=reuse)
    batch = dialogue_batch(size=1)
    session.set_image(batch)
    answers, first_calls = [], []
    try:
        for turn, question in enumerate(QUESTIONS):
            first_calls.append(len(fed))
            answers.append(session.ask(question, on_text=pieces.append))
            if references:
                session.replace_last_answer(references[turn])
    finally:
        del model.run_lm
    prefills = [fed[i] for i in first_calls]
    return answers, prefills, pieces, session


@pytest.mark.parametrize("fusion", ["prefix", "both"])
@pytest.mark.parametrize("references", [None, ["red", "2", "3"]])
def test_reused_cache_gives_the_same_tokens_and_feeds_only_new_ones(fusion, references):
    model = chatty_model(fusion)
    reused, reused_fed, pieces, session = converse(model, True, references)
    fresh, fresh_fed, _, _ = converse(model, False, references)
    assert reused == fresh
    assert all(len(a.split()) == 5 for a in reused)  # max_new_tokens, nothing cut short
    assert " ".join(p.strip() for p in pieces) == " ".join(reused)  # streamed as generated
    # Turn 1 encodes everything either way; later turns without reuse re-encode the history.
    assert reused_fed[0] == fresh_fed[0]
    for turn in (1, 2):
        history = len(session.renderer.encode(session.messages[: 2 * turn]).ids)
        assert fresh_fed[turn] > history > reused_fed[turn] > 0


def test_reset_and_a_new_image_start_a_new_conversation():
    model = chatty_model("prefix")
    session = ChatSession(model, ChatRenderer(build_tokenizer(TOKENIZER)), max_new_tokens=3)
    session.set_image(dialogue_batch(size=1))
    first = session.ask(QUESTIONS[0])
    session.ask(QUESTIONS[1])
    session.reset()
    assert session.messages == [] and session.ask(QUESTIONS[0]) == first
    session.set_image(dialogue_batch(size=1, seed=3))
    assert len(session.messages) == 0 and session.cache is None
    with pytest.raises(ValueError, match="max_position_embeddings"):
        ChatSession(model, session.renderer, max_new_tokens=1000).ask("what?")
    assert torch.is_tensor(session.visual["tokens"])
