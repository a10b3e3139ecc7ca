"""``evaluate_dialogues`` on dialogues whose right and wrong turns are known in advance.

A tiny ImgTune model answers each turn; the references are then chosen turn by turn so that a
planned set of turns is right (the model's own answer, upper-cased and with a full stop, which
normalisation must forgive) and the rest wrong (a two-word answer; the model always says five
words). The model's answers are taken from a separate, uncached ``ChatSession`` fed the same
reference history, so the planned accuracies are known exactly before ``evaluate_dialogues``
runs. A scripted session then shows that each turn is answered from the reference history."""

import pytest
import torch
from dialogue_helpers import TOKENIZER, dialogue_batch
from test_chat_session import chatty_model

from mmf_imgtune.data.conversation import ChatRenderer
from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.inference import dialogue_eval
from mmf_imgtune.inference.chat import ChatSession
from mmf_imgtune.inference.dialogue_eval import evaluate_dialogues

QUESTIONS = ["what colour is it?", "and how many?", "how many is it?"]
WRONG = "blue red"
MAX_NEW_TOKENS = 5
# Per dialogue, whether each turn's reference is the model's answer; the last dialogue is a
# turn shorter, so turn 3 is scored on two dialogues only.
PLAN = [[True, False, True], [False, True, True], [True, True]]


def planned_dialogues(model, renderer):
    """(batch, messages) per dialogue, references chosen so the PLAN's turns are right; and
    the model's answers per dialogue."""
    dialogues, answers = [], []
    for seed, plan in enumerate(PLAN):
        batch = dialogue_batch(size=1, seed=seed)
        session = ChatSession(model, renderer, MAX_NEW_TOKENS, reuse_cache=False)
        session.set_image(batch)
        messages, said = [], []
        for question, right in zip(QUESTIONS, plan):
            answer = session.ask(question)
            said.append(answer)
            assert len(answer.split()) == MAX_NEW_TOKENS, answer  # never equal to WRONG
            reference = f"{answer.upper()}." if right else WRONG
            session.replace_last_answer(reference)
            messages += [{"role": "user", "content": question}]
            messages += [{"role": "assistant", "content": reference}]
        # A trailing question without a reference is not scored.
        messages.append({"role": "user", "content": QUESTIONS[0]})
        dialogues.append((batch, messages))
        answers.append(said)
    return dialogues, answers


@pytest.mark.parametrize("reuse_cache", [True, False])
def test_turn_accuracies_are_the_planned_ones(reuse_cache):
    torch.manual_seed(0)
    model = chatty_model("prefix")
    renderer = ChatRenderer(build_tokenizer(TOKENIZER))
    dialogues, _ = planned_dialogues(model, renderer)
    result = evaluate_dialogues(model, renderer, dialogues, MAX_NEW_TOKENS, reuse_cache)
    assert result["dialogues"] == 3
    assert result["turn_count"] == [3, 3, 2]
    assert result["turn_accuracy"] == pytest.approx([2 / 3, 2 / 3, 2 / 2])
    assert result["first_turn"] == pytest.approx(2 / 3)
    # Later turns pooled over all their answers (4 right of 5), not a mean of per-turn means.
    assert result["later_turns"] == pytest.approx(4 / 5)
    assert len(result["turn_seconds"]) == 3 and all(s > 0 for s in result["turn_seconds"])


class EchoSession:
    """A stand-in chat session whose answer is the last assistant turn of its history (or
    "none"): what it says shows exactly which history evaluation gave it."""

    def __init__(self, model, renderer, max_new_tokens, reuse_cache):
        self.messages = []

    def set_image(self, batch):
        self.messages = []

    def ask(self, text):
        said = [m["content"] for m in self.messages if m["role"] == "assistant"]
        answer = said[-1] if said else "none"
        self.messages += [{"role": "user", "content": text}]
        self.messages += [{"role": "assistant", "content": answer}]
        return answer

    def replace_last_answer(self, answer):
        self.messages[-1]["content"] = answer


def test_each_turn_is_answered_from_the_reference_history(monkeypatch):
    """Turn k sees the references of turns 1..k-1, not the model's own answers: an echoing
    session is right exactly where a reference repeats the one before it."""
    monkeypatch.setattr(dialogue_eval, "ChatSession", EchoSession)
    references = ["none", "red", "red", "blue", "green"]
    messages = []
    for reference in references:
        messages += [{"role": "user", "content": "q"}, {"role": "assistant", "content": reference}]
    result = evaluate_dialogues(None, None, [(None, messages)])
    # Own history would answer "none" every turn: right at turn 1 only.
    assert result["turn_accuracy"] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert result["later_turns"] == pytest.approx(1 / 4)
