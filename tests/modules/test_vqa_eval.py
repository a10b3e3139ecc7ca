"""The official VQA evaluation: values computed by hand from vqaEval.py's rules."""

import pytest
import torch

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.data.answers import AnswerVocab
from mmf_imgtune.modules.metrics import Metrics
from mmf_imgtune.modules.vqa_eval import (
    RULE_EXACT,
    RULE_OFFICIAL,
    leave_one_out_accuracy,
    normalize_answer,
    vqa_score,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        # number words (manualMap), articles, case
        ("Two", "2"),
        ("none", "0"),
        ("The ten dogs", "10 dogs"),
        ("a", ""),
        # contractions restored; the official table's capitalised keys never match
        ("dont", "don't"),
        ("Isnt it", "isn't it"),
        ("Im", "im"),
        # a period goes unless a digit follows it
        ("No.", "no"),
        ("3.5", "3.5"),
        ("6.30 p.m.", "6.30 pm"),
        # punctuation touching a space is deleted, elsewhere it becomes a space
        ("red, blue", "red blue"),
        ("red,blue", "red blue"),
        ("t-shirt", "t shirt"),
        ("yes!", "yes"),
        ("Is it 10:30?", "is it 10:30"),  # ':' is not in the official list
        # a digit-comma-digit anywhere deletes every mark: thousands keep together
        ("1,000", "1000"),
        ("1,000 dogs, t-shirts", "1000 dogs tshirts"),
        (" Two\tdogs\n", "2 dogs"),
    ],
)
def test_official_normalisation(raw, expected):
    assert normalize_answer(raw) == expected
    assert normalize_answer(expected) == expected  # idempotent on its own output


def _mmf_soft_scores(answers: list[str], vocab: AnswerVocab) -> list[float]:
    """MMF's VQAAnswerProcessor.compute_answers_scores, written out as its loop."""
    scores = [0.0] * len(vocab)
    gt_answers = list(enumerate(normalize_answer(a) for a in answers))
    for answer in {a for _, a in gt_answers}:
        accs = []
        for gt_answer in gt_answers:
            others = [item for item in gt_answers if item != gt_answer]
            accs.append(min(1.0, len([item for item in others if item[1] == answer]) / 3))
        if answer in vocab.index:
            scores[vocab.index[answer]] = sum(accs) / len(accs)
    return scores


def test_leave_one_out_by_hand():
    # 3 of 10: 3 subsets keep 2 matches (2/3), 7 keep 3 (1): (3 * 2/3 + 7) / 10 = 0.9
    assert leave_one_out_accuracy(3) == pytest.approx(0.9)
    assert leave_one_out_accuracy(1) == pytest.approx(0.3)  # (1 * 0 + 9 * 1/3) / 10
    assert leave_one_out_accuracy(2) == pytest.approx(0.6)  # (2 * 1/3 + 8 * 2/3) / 10
    assert leave_one_out_accuracy(4) == 1.0 and leave_one_out_accuracy(10) == 1.0
    assert leave_one_out_accuracy(0) == 0.0
    with pytest.raises(ValueError, match="11 matching answers of 10"):
        leave_one_out_accuracy(11)


def test_generated_answer_scores_officially_against_ten_answers():
    answers = ["2"] * 3 + ["3"] * 6 + ["Two dogs"]
    assert vqa_score("Two", answers) == pytest.approx(0.9)  # "two" is "2": 3 of 10
    assert vqa_score("two dogs.", answers) == pytest.approx(0.3)  # 1 of 10
    assert vqa_score("3", answers) == 1.0 and vqa_score("4", answers) == 0.0
    assert vqa_score("Yes", ["yes"] * 10) == 1.0


def test_fewer_than_ten_answers_score_exact_match():
    assert vqa_score("The Red.", ["red"]) == 1.0
    assert vqa_score("3", ["three", "four"]) == 1.0  # any reference
    assert vqa_score("blue", ["red"]) == 0.0
    assert vqa_score("", ["a"]) == 0.0  # an answer that normalises to nothing matches nothing


@pytest.mark.parametrize(
    "answers",
    [
        ["red"] * 3 + ["blue"] * 7,
        ["Red", "red."] + ["two"] * 2 + ["2"] * 2 + ["blue"] * 4,
        ["yes"] * 10,
        ["no"] + ["yes"] * 9,
        ["1,000", "1000", "one thousand", "2", "two", "Two.", "3", "4", "5", "6"],
    ],
)
def test_soft_scores_equal_mmfs(answers):
    vocab = AnswerVocab(["red", "blue", "2", "yes", "no", "1000", "3"])
    assert vocab.soft_scores(answers).tolist() == pytest.approx(_mmf_soft_scores(answers, vocab))


def test_vqa_accuracy_metrics_name_their_rule():
    vocab = AnswerVocab(["red", "blue"])
    ten, one = ["red"] * 3 + ["blue"] * 7, ["red"]
    batch = SampleList(
        {
            "targets": torch.stack([vocab.soft_scores(ten), vocab.soft_scores(one)]),
            "answers": [ten, one],
        }
    )
    metrics = Metrics(["vqa_accuracy", "generation_vqa_accuracy"])
    output = {"scores": torch.tensor([[1.0, 0.0], [1.0, 0.0]]), "generated_text": ["Red", "red"]}
    metrics.update(batch, output)
    values = metrics.compute("val", "d")
    assert values["val/d/vqa_accuracy"] == pytest.approx((0.9 + 1.0) / 2)
    assert values["val/d/generation_vqa_accuracy"] == pytest.approx((0.9 + 1.0) / 2)
    assert metrics.notes["val/d/vqa_accuracy"] == f"rule: {RULE_EXACT}; {RULE_OFFICIAL}"
    assert metrics.notes["val/d/generation_vqa_accuracy"] == (
        f"{RULE_OFFICIAL}: 1 questions; {RULE_EXACT}: 1 questions"
    )
