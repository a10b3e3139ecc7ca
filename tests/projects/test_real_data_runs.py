"""The experiment configs of projects/imgtune and projects/baselines, run by ``mmf_run`` for a
few CPU steps on tiny data in the real layouts (tiny random models; nothing downloaded)."""

import csv
import json
from pathlib import Path

import pytest
import torch
from mmf_layouts import (
    TOKENIZER,
    tokenizer_overrides,
    write_hateful_memes,
    write_image,
    write_jsonl,
    write_vqa2,
)

from mmf_imgtune.cli.run import run
from mmf_imgtune.config import build_config

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
# Every model config (defaults.yaml is their shared include).
BASELINES = [p for p in sorted((REPO / "projects/baselines/configs/hateful_memes").glob("*.yaml"))
             if p.stem != "defaults"]  # fmt: skip
SHORT = ["training.max_updates=4", "training.batch_size=4", "training.evaluation_interval=2",
         "training.checkpoint_interval=2", "training.log_interval=2",
         "training.progress_bar=false", "scheduler.params.num_warmup_steps=1"]  # fmt: skip


def tiny_imgtune(dataset: str) -> list[str]:
    """A random 2-layer Llama and the word-level tokenizer instead of Qwen2.5-0.5B."""
    params = f"dataset_config.{dataset}.processors.text_processor.params"
    return ["model_config.imgtune.lm.name_or_path=null", "model_config.imgtune.lm_training=full",
            f"model_config.imgtune.tokenizer={TOKENIZER}",
            "model_config.imgtune.region_encoder.feature_dim=16",
            "model_config.imgtune.region_encoder.resampler.num_latents=4",
            f"{params}.tokenizer={TOKENIZER}", f"{params}.max_seq_length=16",
            f"dataset_config.{dataset}.max_features=6", *SHORT]  # fmt: skip


def imgtune_run(dataset: str, *extra: str) -> dict:
    config = f"config=projects/imgtune/configs/{dataset}/defaults.yaml"
    return run([config, "model=imgtune", f"dataset={dataset}", *tiny_imgtune(dataset), *extra])


def binary_scores(rows: list[dict], labels: dict[int, int]) -> dict[str, float]:
    """Accuracy, F1 of class 1 and AUROC (Mann-Whitney: the share of (positive, negative)
    pairs the positive outranks, ties half) of the competition csv's rows, by hand."""
    truth = [labels[int(r["id"])] for r in rows]
    proba = [float(r["proba"]) for r in rows]
    predicted = [int(p > 0.5) for p in proba]
    hits = sum(p == t for p, t in zip(predicted, truth))
    tp = sum(p == t == 1 for p, t in zip(predicted, truth))
    wrong = len(rows) - hits
    positives = [p for p, t in zip(proba, truth) if t == 1]
    negatives = [p for p, t in zip(proba, truth) if t == 0]
    assert positives and negatives, "the split needs both classes for an AUROC"
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return {"accuracy": hits / len(rows), "binary_f1": 2 * tp / (2 * tp + wrong),
            "roc_auc": sum(pairs) / len(pairs)}  # fmt: skip


def test_imgtune_hateful_memes_train_then_competition_csv(tmp_path):
    root = write_hateful_memes(tmp_path / "data")
    result = imgtune_run("hateful_memes", "run_type=train_val")
    assert result["num_updates"] == 4
    save = Path(result["save_dir"])
    # The val split (dev_unseen) again, as the test split, with predictions written: the
    # run's metrics must be those computed by hand on its csv, and equal the val metrics of
    # the last evaluation (the same weights).
    dev = "hateful_memes/defaults/annotations/dev_unseen.jsonl"
    scored = imgtune_run("hateful_memes", "run_type=test", "evaluation.predict=true",
                         f"dataset_config.hateful_memes.annotations.test=[{dev}]",
                         f"checkpoint.resume_file={save}/current.ckpt")  # fmt: skip
    with open(scored["predictions"][0], newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = {}
    for line in (root / "annotations" / "dev_unseen.jsonl").read_text().splitlines():
        record = json.loads(line)
        labels[record["id"]] = record["label"]
    assert sorted(int(r["id"]) for r in rows) == sorted(labels)
    for metric, value in binary_scores(rows, labels).items():
        assert scored["metrics"][f"test/hateful_memes/{metric}"] == pytest.approx(value), metric
        assert result["metrics"][f"val/hateful_memes/{metric}"] == pytest.approx(value), metric
    # test_unseen has no labels: predict only (the runtime computes no metrics then).
    predicted = imgtune_run(
        "hateful_memes",
        "run_type=test",
        "evaluation.predict=true",
        "evaluation.metrics=[]",
        f"checkpoint.resume_file={save}/current.ckpt",
    )
    with open(predicted["predictions"][0], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "proba", "label"]
    assert [int(r["id"]) for r in rows] == [1021, 1022, 1023, 1024]
    assert all(int(r["label"]) == int(float(r["proba"]) > 0.5) for r in rows)


# Ten identical human answers per question: a predicted answer scores 1 or 0 under every
# VQA accuracy rule (min(1, n/3), its average over the ten 9-answer subsets, with or without
# the official answer normalisation), so the expected score does not hang on the rule.
UNANIMOUS = [("what color is the cat", ["red"] * 10), ("how many dog", ["2"] * 10),
             ("is this a cat", ["yes"] * 10), ("is this a man", ["no"] * 10)]  # fmt: skip


def test_imgtune_vqa2_soft_scores_and_answers(tmp_path, monkeypatch):
    import mmf_layouts

    monkeypatch.setattr(mmf_layouts, "QUESTIONS", UNANIMOUS)
    write_vqa2(tmp_path / "data")
    answers = "dataset_config.vqa2.num_answers=6"
    result = imgtune_run("vqa2", "run_type=train_val", answers)
    # The val questions again, as the test split with predictions: the metric is the share
    # of written answers that equal the humans'.
    val = (
        "{questions: vqa2/defaults/annotations/v2_OpenEnded_mscoco_val2014_questions.json, "
        "annotations: vqa2/defaults/annotations/v2_mscoco_val2014_annotations.json}"
    )
    features = "[vqa2/defaults/features/trainval2014.lmdb]"
    scored = imgtune_run("vqa2", "run_type=test", "evaluation.predict=true", answers,
                         f"dataset_config.vqa2.annotations.test=[{val}]",
                         f"dataset_config.vqa2.features.test={features}",
                         f"checkpoint.resume_file={result['save_dir']}/current.ckpt")  # fmt: skip
    rows = json.loads(Path(scored["predictions"][0]).read_text())
    humans = {1000 * image + n: UNANIMOUS[n % 4][1][0]
              for n, image in enumerate(mmf_layouts.VQA_IMAGES["val"])}  # fmt: skip
    assert sorted(r["question_id"] for r in rows) == sorted(humans)
    expected = sum(r["answer"] == humans[r["question_id"]] for r in rows) / len(rows)
    assert scored["metrics"]["test/vqa2/vqa_accuracy"] == pytest.approx(expected)
    assert result["metrics"]["val/vqa2/vqa_accuracy"] == pytest.approx(expected)
    predicted = imgtune_run(
        "vqa2",
        "run_type=test",
        "evaluation.predict=true",
        "evaluation.metrics=[]",
        answers,
        f"checkpoint.resume_file={result['save_dir']}/current.ckpt",
    )
    rows = json.loads(Path(predicted["predictions"][0]).read_text())
    assert [r["question_id"] for r in rows] == [1000, 14001]
    assert all(r["answer"] in {"red", "2", "yes", "no", ""} for r in rows)


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: p.stem)
def test_baseline_configs_resolve(path):
    model = "unimodal_image" if path.stem.startswith("unimodal_image") else path.stem
    config = build_config([f"config={path}", f"model={model}", "dataset=hateful_memes"])
    assert config.training.early_stop.criteria == "hateful_memes/roc_auc"
    assert config.evaluation.predict_file_format == "csv"
    hm = config.dataset_config.hateful_memes
    encoder = config.model_config[model].get("image_encoder")
    if model == "unimodal_text":
        assert not hm.use_images and not hm.use_features
    else:
        assert hm.use_features == (encoder.type == "region") and hm.use_images == (
            encoder.type == "grid"
        )


def test_baseline_visual_bert_trains_on_region_features(tmp_path):
    root = write_hateful_memes(tmp_path / "data")
    bert = (
        "{vocab_size: 32, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, "
        "intermediate_size: 64, max_position_embeddings: 32}"
    )
    result = run(["config=projects/baselines/configs/hateful_memes/visual_bert.yaml",
                  "model=visual_bert", "dataset=hateful_memes", "run_type=train_val_test",
                  # Tested on the val split again (labelled), with the competition csv.
                  "dataset_config.hateful_memes.annotations.test="
                  "[hateful_memes/defaults/annotations/dev_unseen.jsonl]",
                  "evaluation.predict=true",
                  f"model_config.visual_bert.bert.config={bert}",
                  "model_config.visual_bert.image_encoder.feature_dim=16",
                  "model_config.visual_bert.classifier_hidden=16",
                  "dataset_config.hateful_memes.max_features=6",
                  *tokenizer_overrides("hateful_memes"), *SHORT])  # fmt: skip
    assert result["num_updates"] == 4
    with open(result["predictions"][0], newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = {}
    for line in (root / "annotations" / "dev_unseen.jsonl").read_text().splitlines():
        labels[json.loads(line)["id"]] = json.loads(line)["label"]
    for metric, value in binary_scores(rows, labels).items():
        assert result["metrics"][f"test/hateful_memes/{metric}"] == pytest.approx(value), metric
    weights = torch.load(Path(result["save_dir"]) / "current.ckpt", weights_only=True)
    assert any("visual" in k or "image" in k for k in weights["state_dict"])


def test_image_text_jsonl_extracts_features_then_trains(tmp_path):
    root = tmp_path / "data" / "datasets" / "image_text_jsonl"
    records = []
    for index in range(8):
        write_image(root / "images" / f"{index}.png", index)
        records.append({"image": f"{index}.png", "text": "a cat" if index % 2 else "a dog",
                        "label": index % 2, "id": index})  # fmt: skip
    for split in ("train", "val", "test"):
        write_jsonl(root / f"{split}.jsonl", records)
    name = "dataset_config.image_text_jsonl"
    result = run(["model=toy_classifier", "dataset=image_text_jsonl",
                  "run_type=train_val_test", "evaluation.predict=true",
                  f"{name}.extract.weights=random", f"{name}.extract.num_boxes=3",
                  f"{name}.extract.min_size=32", f"{name}.extract.max_size=48",
                  f"{name}.extract.progress=false", f"{name}.max_features=4",
                  # Without detector weights the extractor's default is MobileNetV2 'mid': 128-d.
                  "model_config.toy_classifier.feature_dim=128", "evaluation.metrics=[accuracy]",
                  *tokenizer_overrides("image_text_jsonl"), *SHORT])  # fmt: skip
    assert len(list((root / "features").glob("*_info.npy"))) == 8
    # Accuracy is the share of written labels that are right; val and test hold the same
    # records and the same weights score them.
    rows = json.loads(Path(result["predictions"][0]).read_text())
    truth = {r["id"]: r["label"] for r in records}
    assert sorted(int(r["id"]) for r in rows) == sorted(truth)
    expected = sum(int(r["label"]) == truth[int(r["id"])] for r in rows) / len(rows)
    assert result["metrics"]["test/image_text_jsonl/accuracy"] == pytest.approx(expected)
    assert result["metrics"]["val/image_text_jsonl/accuracy"] == pytest.approx(expected)
