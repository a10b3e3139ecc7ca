"""Per-turn accuracy of generated answers on held-out dialogues (first turn vs later turns).

Each dialogue is replayed through a ``ChatSession`` (``chat.py``, greedy decoding by the one
decoding loop): the model answers turn k given the image and the reference history of turns
1..k-1 (the reference answer replaces the generated one before the next question, as in
dialogue benchmarks with teacher-forced history), and an answer counts when it equals the
reference after the official VQA answer normalisation (``modules/vqa_eval.py``). ``load_checkpoint`` rebuilds a trained model, its renderer and its
data set from an ``mmf_run`` save folder.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.data.conversation import ChatRenderer, parse_conversation, with_image
from mmf_imgtune.inference.chat import ChatSession
from mmf_imgtune.inference.runs import chat_renderer
from mmf_imgtune.modules.vqa_eval import normalize_answer
from mmf_imgtune.trainer.load_run import load_run


def evaluate_dialogues(
    model: Any,
    renderer: ChatRenderer,
    dialogues: Iterable[tuple[SampleList, list[dict]]],
    max_new_tokens: int = 8,
    reuse_cache: bool = True,
) -> dict:
    """Args:
        dialogues: (batch of one with the image's features, chat messages with references).

    Returns:
        ``turn_accuracy`` (list, turn 1 first), ``turn_count``, ``first_turn``,
        ``later_turns`` (all turns after the first, pooled), ``dialogues``, ``turn_seconds``
        (mean wall time of a turn, per turn index).
    """
    session = ChatSession(model, renderer, max_new_tokens, reuse_cache)
    correct: list[int] = []
    counts: list[int] = []
    seconds: list[float] = []
    total = 0
    for batch, messages in dialogues:
        session.set_image(batch)
        total += 1
        turn = 0
        for k, message in enumerate(messages):
            if message["role"] != "user":
                continue
            reference = messages[k + 1]["content"] if k + 1 < len(messages) else None
            if reference is None:
                break
            start = time.perf_counter()
            answer = session.ask(message["content"])
            elapsed = time.perf_counter() - start
            session.replace_last_answer(reference)
            if turn == len(counts):  # the first dialogue this long
                correct.append(0)
                counts.append(0)
                seconds.append(0.0)
            correct[turn] += int(normalize_answer(answer) == normalize_answer(reference))
            counts[turn] += 1
            seconds[turn] += elapsed
            turn += 1
    later = sum(correct[1:]) / max(1, sum(counts[1:]))
    return {
        "turn_accuracy": [c / n for c, n in zip(correct, counts)],
        "turn_count": counts,
        "first_turn": correct[0] / counts[0] if counts else 0.0,
        "later_turns": later,
        "dialogues": total,
        "turn_seconds": [s / n for s, n in zip(seconds, counts)],
    }


def shapes_dialogues(dataset: Any, limit: int | None = None):
    """(batch, messages) of a ``shapes`` dialogue data set (``task: dialogue``)."""
    for index, record in enumerate(dataset.records[:limit]):
        sample = dataset[index]
        batch = SampleList([sample])
        messages = with_image(parse_conversation(dataset.conversation(record)))
        yield batch, messages


def load_checkpoint(save_dir: str | Path, device: str = "cpu", checkpoint: str = "current.ckpt"):
    """(model, renderer, run config) of an ``mmf_run`` folder with a chat_prompt processor."""
    run = load_run(save_dir, device, checkpoint=checkpoint)
    return run.model, chat_renderer(run.config), run.config
