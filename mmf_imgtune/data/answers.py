"""Answer vocabularies and VQA soft scores, as MMF builds them for VQA v2.

MMF trains against the official VQA accuracy of each candidate answer (Antol et al. 2015;
``mmf_imgtune.modules.vqa_eval``: the leave-one-out mean of ``min(1, matches / 3)`` over the
10 annotators, so 3 matching answers score 0.9) over the top-K answers of the train split
(K = 3129 for VQA v2, the answers given at least 9 times). This module builds that vocabulary,
reads/writes it as MMF's ``answers_vqa.txt`` (one answer a line) and turns a list of
annotator answers into the soft-score target vector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch

from mmf_imgtune.io.annotations import read_lines
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.modules.vqa_eval import answer_scores, normalize_answer


class AnswerVocab:
    """A fixed list of answers; index ``i`` is output class ``i`` of a VQA model.

    Args:
        answers: the answers in class order (already normalised).
    """

    def __init__(self, answers: Iterable[str]):
        self.answers = list(answers)
        if not self.answers:
            raise ValueError("an answer vocabulary needs at least one answer; got none")
        self.index = {answer: i for i, answer in enumerate(self.answers)}

    def __len__(self) -> int:
        return len(self.answers)

    @classmethod
    def from_answer_lists(cls, answer_lists: Iterable[list[str]], top_k: int) -> AnswerVocab:
        """The ``top_k`` most frequent normalised answers (ties broken alphabetically, so the
        vocabulary is the same on every machine)."""
        counts = Counter(normalize_answer(a) for answers in answer_lists for a in answers)
        counts.pop("", None)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return cls(answer for answer, _ in ranked[:top_k])

    @classmethod
    def load(cls, path: str) -> AnswerVocab:
        """Read MMF's vocabulary file: one answer a line."""

        return cls(read_lines(path, "answers"))

    def save(self, path: str) -> None:
        # atomic: another process never reads half a file
        atomic_write(path, "".join(f"{answer}\n" for answer in self.answers))

    def covers(self, answers: list[str]) -> bool:
        """Whether at least one of the annotator answers is in the vocabulary."""
        return any(normalize_answer(a) in self.index for a in answers)

    def soft_scores(self, answers: list[str]) -> torch.Tensor:
        """Soft target over the vocabulary from annotator answers.

        Args:
            answers: the (usually 10) annotator answers of one question.
        Returns:
            (len(self),) float: each answer's VQA accuracy at its index (10 answers: the
            official leave-one-out score, 0.3 / 0.6 / 0.9 / 1.0 for 1 / 2 / 3 / 4+ matches;
            fewer: 1.0, exact match); answers outside the vocabulary contribute nothing.
        """
        scores = torch.zeros(len(self.answers))
        for answer, score in answer_scores(answers).items():
            if answer in self.index:
                scores[self.index[answer]] = score
        return scores


def drop_or_count_uncovered(
    records: list[dict], vocab: AnswerVocab, config: Any, dataset: str, split: str
) -> list[dict]:
    """Report the questions none of whose answers is in ``vocab`` (never silently).

    Such a question trains toward an all-zero target and can only score 0. The dataset's
    ``skip_out_of_vocab_answers`` (in ``config``) leaves them out of the train split; else,
    and always in val/test (scores stay comparable), they stay, as in MMF. Returns the records
    to use.
    """
    skip = bool(config.get("skip_out_of_vocab_answers")) and split == "train"
    where = f"{dataset}/{split}"
    uncovered = [r for r in records if "answers" in r and not vocab.covers(r["answers"])]
    if not uncovered:
        return records
    share = f"{len(uncovered)} of {len(records)} questions"
    if skip:
        print(f"[mmf_imgtune] {where}: skipped {share} with no answer in the vocabulary")
        dropped = {id(r) for r in uncovered}
        return [r for r in records if id(r) not in dropped]
    example = ", ".join(repr(a) for a in uncovered[0]["answers"][:3])
    print(
        f"[mmf_imgtune] {where}: {share} have no answer in the {len(vocab)}-answer vocabulary "
        f"(e.g. {example}); they score 0 (skip_out_of_vocab_answers=true leaves them out of "
        "training)"
    )
    return records
