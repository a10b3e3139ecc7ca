"""``vqa2`` from the released json files and from MMF's imdb ``.npy``."""

import pytest
import torch
from mmf_layouts import collate, load_split, write_features, write_vqa2, write_vqa2_imdb

from mmf_imgtune.data.answers import AnswerVocab
from mmf_imgtune.modules.vqa_eval import normalize_answer

SMALL = ["dataset_config.vqa2.num_answers=6", "dataset_config.vqa2.max_features=4"]


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_soft_scores_follow_mmf():
    vocab = AnswerVocab(["red", "2", "yes"])
    scores = vocab.soft_scores(["Red", "red."] + ["two"] * 2 + ["2"] * 2 + ["blue"] * 4)
    # The official leave-one-out score: 2 of 10 -> 0.6, 4 of 10 -> 1.0.
    assert scores.tolist() == pytest.approx([0.6, 1.0, 0.0])
    assert normalize_answer("The Dog!") == "dog" and normalize_answer("3.5") == "3.5"
    ranked = AnswerVocab.from_answer_lists([["y", "x", "z"], ["x", "z"]], top_k=2)
    assert ranked.answers == ["x", "z"]  # ties broken alphabetically


def test_json_layout_vocab_targets_and_collate(data_dir):
    root = write_vqa2(data_dir)
    train = load_split("vqa2", "train", *SMALL)
    vocab_file = root / "extras" / "vocabs" / "answers_vqa.txt"
    # build() wrote MMF's vocabulary file: train answers by frequency ("two" counts as "2").
    assert vocab_file.read_text().split("\n") == ["2", "yes", "red", "no", ""]
    assert len(train) == 6
    first = train[0]
    assert first.text == "what color is the cat?" and first.id.item() == 9000
    assert first.targets.shape == (6,) and first.targets[2].item() == 1.0  # red x7
    assert first.targets[0].item() == pytest.approx(0.9)  # two x3 -> "2": 3 of 10
    assert first.targets[4:].sum() == 0  # classes past the 4-answer vocabulary stay 0
    assert len(first.answers) == 10
    second = train[1]  # two x4 + 2 x4 -> 8 votes for "2"; "a" is dropped as an article
    assert second.targets.tolist() == [1.0, 0, 0, 0, 0, 0]
    batch = collate(train, range(6))
    assert batch.targets.shape == (6, 6) and batch.image_feature_0.shape[:2] == (6, 4)
    val = load_split("vqa2", "val", *SMALL)
    assert len(val) == 3 and val[0].image_info_0.image_width == 40
    test = load_split("vqa2", "test", *SMALL)
    assert "targets" not in test[0] and "answers" not in test[0]
    scores = torch.zeros(2, 6)
    scores[0, 3], scores[1, 5] = 1.0, 1.0
    rows = test.format_for_prediction({**collate(test, [0, 1], "test"), "scores": scores})
    assert rows == [{"question_id": 1000, "answer": "no"}, {"question_id": 14001, "answer": ""}]


def test_imdb_npy_layout_uses_feature_path_keys(data_dir, tmp_path):
    imdb = write_vqa2_imdb(data_dir / "datasets" / "vqa2" / "defaults" / "imdb_train.npy")
    names = [f"COCO_train2014_{i:012d}" for i in (9, 25, 30, 34, 36, 42)]
    write_features(tmp_path / "feats", names, "npy")
    train = load_split("vqa2", "train", *SMALL, f"dataset_config.vqa2.annotations.train=[{imdb}]",
                       f"dataset_config.vqa2.features.train=[{tmp_path / 'feats'}]")  # fmt: skip
    assert len(train) == 6
    assert train[2].text == "is this a cat?" and train[2].targets.sum() > 0
    assert collate(train, range(3)).image_feature_0.shape == (3, 4, 16)


def test_vocab_larger_than_num_answers_fails_with_fix(data_dir):
    root = write_vqa2(data_dir)
    vocab = root / "extras" / "vocabs" / "answers_vqa.txt"
    vocab.parent.mkdir(parents=True)
    vocab.write_text("".join(f"answer{i}\n" for i in range(10)))
    with pytest.raises(ValueError, match="set num_answers=10"):
        load_split("vqa2", "train", *SMALL)


def test_missing_questions_file_names_key(data_dir):
    with pytest.raises(FileNotFoundError) as error:
        load_split("vqa2", "val", *SMALL, "dataset_config.vqa2.answer_vocab_file=/nonexistent.txt")
    assert "dataset_config.vqa2.annotations.train.questions" in str(error.value)
    assert "visualqa.org" in str(error.value)
