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
    write_coco_karpathy,
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


def test_imgtune_hateful_memes_train_then_competition_csv(tmp_path):
    write_hateful_memes(tmp_path / "data")
    result = imgtune_run("hateful_memes", "run_type=train_val")
    assert result["num_updates"] == 4
    for metric in ("accuracy", "binary_f1", "roc_auc"):
        assert 0.0 <= result["metrics"][f"val/hateful_memes/{metric}"] <= 1.0
    save = Path(result["save_dir"])
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


def test_imgtune_vqa2_soft_scores_and_answers(tmp_path):
    write_vqa2(tmp_path / "data")
    result = imgtune_run("vqa2", "run_type=train_val", "dataset_config.vqa2.num_answers=6")
    assert 0.0 <= result["metrics"]["val/vqa2/vqa_accuracy"] <= 1.0
    predicted = imgtune_run(
        "vqa2",
        "run_type=test",
        "evaluation.predict=true",
        "evaluation.metrics=[]",
        "dataset_config.vqa2.num_answers=6",
        f"checkpoint.resume_file={result['save_dir']}/current.ckpt",
    )
    rows = json.loads(Path(predicted["predictions"][0]).read_text())
    assert [r["question_id"] for r in rows] == [1000, 14001]
    assert all(r["answer"] in {"2", "yes", "red", "no", ""} for r in rows)


def test_imgtune_coco_captioning_bleu_cider(tmp_path):
    write_coco_karpathy(tmp_path / "data", features="lmdb")
    result = imgtune_run(
        "coco",
        "run_type=train_val_test",
        "model_config.imgtune.generation.max_new_tokens=4",
        "model_config.imgtune.generation.num_beams=1",
    )
    for key in ("val/coco/bleu4", "val/coco/cider", "test/coco/bleu4", "test/coco/cider"):
        assert result["metrics"][key] >= 0.0, key


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
    write_hateful_memes(tmp_path / "data")
    bert = (
        "{vocab_size: 32, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, "
        "intermediate_size: 64, max_position_embeddings: 32}"
    )
    result = run(["config=projects/baselines/configs/hateful_memes/visual_bert.yaml",
                  "model=visual_bert", "dataset=hateful_memes", "run_type=train_val",
                  f"model_config.visual_bert.bert.config={bert}",
                  "model_config.visual_bert.image_encoder.feature_dim=16",
                  "model_config.visual_bert.classifier_hidden=16",
                  "dataset_config.hateful_memes.max_features=6",
                  *tokenizer_overrides("hateful_memes"), *SHORT])  # fmt: skip
    assert result["num_updates"] == 4
    assert 0.0 <= result["metrics"]["val/hateful_memes/roc_auc"] <= 1.0
    weights = torch.load(Path(result["save_dir"]) / "current.ckpt", weights_only=True)
    assert any("visual" in k or "image" in k for k in weights["state_dict"])


def test_image_text_jsonl_extracts_features_then_trains(tmp_path):
    root = tmp_path / "data" / "datasets" / "image_text_jsonl"
    records = []
    for index in range(8):
        write_image(root / "images" / f"{index}.png", index)
        records.append({"image": f"{index}.png", "text": "a cat" if index % 2 else "a dog",
                        "label": index % 2, "id": index})  # fmt: skip
    for split in ("train", "val"):
        write_jsonl(root / f"{split}.jsonl", records)
    name = "dataset_config.image_text_jsonl"
    result = run(["model=toy_classifier", "dataset=image_text_jsonl", "run_type=train_val",
                  f"{name}.extract.weights=random", f"{name}.extract.num_boxes=3",
                  f"{name}.extract.min_size=32", f"{name}.extract.max_size=48",
                  f"{name}.extract.progress=false", f"{name}.max_features=4",
                  # Without detector weights the extractor's default is MobileNetV2 'mid': 128-d.
                  "model_config.toy_classifier.feature_dim=128", "evaluation.metrics=[accuracy]",
                  *tokenizer_overrides("image_text_jsonl"), *SHORT])  # fmt: skip
    assert len(list((root / "features").glob("*_info.npy"))) == 8
    assert 0.0 <= result["metrics"]["val/image_text_jsonl/accuracy"] <= 1.0
