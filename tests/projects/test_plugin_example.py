"""projects/plugin_example: a user data set + processor loaded with ``env.user_dir``, trained by
``mmf_run`` with DataLoader workers in two DDP processes (a subprocess, as users run it)."""

import importlib.util
import json
from pathlib import Path

import pytest

from mmf_imgtune.utils.testing import run_cli

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "projects" / "plugin_example"


def make_data(data_dir: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_data", PLUGIN / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.make(str(data_dir), size=64))


def test_clean_text_processor_and_dataset_in_process(tmp_path):
    from mmf_imgtune.common.collate import BatchCollator
    from mmf_imgtune.config import build_config
    from mmf_imgtune.registry import registry

    make_data(tmp_path / "data")
    config = build_config([f"config={PLUGIN}/configs/experiment.yaml", "model=concat_bert",
                           "dataset=tsv_memes", f"env.user_dir={PLUGIN}"])  # fmt: skip
    dataset = registry.get_builder_class("tsv_memes")().load(
        config.dataset_config.tsv_memes, "train"
    )
    assert len(dataset) == 64
    sample = dataset[0]  # "funny is is love @friend https://t.co/x" in the TSV
    assert sample.text == "funny is is love"
    assert sample.image_feature_0.shape == (10, 8) and int(sample.image_info_0.num_boxes) >= 3
    batch = BatchCollator("tsv_memes", "train")([dataset[i] for i in range(4)])
    assert batch.image_info_0.boxes_5d.shape == (4, 10, 5)


@pytest.mark.slow
def test_plugin_trains_with_workers_under_ddp(tmp_path):
    make_data(tmp_path / "data")
    save = tmp_path / "run"
    result = run_cli([f"config={PLUGIN}/configs/experiment.yaml", "model=concat_bert",
                      "dataset=tsv_memes", f"env.user_dir={PLUGIN}", "training.num_workers=2",
                      "training.devices=2", "training.strategy=ddp", "training.accelerator=cpu",
                      "training.max_updates=6", "training.evaluation_interval=3",
                      "training.checkpoint_interval=3", "training.progress_bar=false",
                      "run_type=train_val_test", "evaluation.predict=true"], save)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((save / "metrics.json").read_text())
    assert metrics["num_updates"] == 6
    rows = json.loads(
        (save / "reports" / "tsv_memes_concat_bert_test_predictions.json").read_text()
    )
    assert sorted(r["id"] for r in rows) == list(range(20001, 20033))  # both ranks, no repeats
    # The test metrics, gathered over both ranks, are those of the written predictions.
    expected = hand_scores(rows, tsv_labels(tmp_path / "data" / "tsv_memes" / "test.tsv"))
    for metric, value in expected.items():
        assert metrics["metrics"][f"test/tsv_memes/{metric}"] == pytest.approx(value), metric


def tsv_labels(path: Path) -> dict[int, int]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {int(line.split("\t")[0]): int(line.split("\t")[3]) for line in lines}


def hand_scores(rows: list[dict], labels: dict[int, int]) -> dict[str, float]:
    """Accuracy and AUROC (Mann-Whitney: the share of (positive, negative) pairs in which the
    positive gets the higher class-1 probability, ties half) of prediction rows
    ``{id, label, confidence}`` (the argmax class and its probability)."""
    truth = [labels[r["id"]] for r in rows]
    positive = [r["confidence"] if r["label"] == 1 else 1.0 - r["confidence"] for r in rows]
    pos = [p for p, t in zip(positive, truth) if t == 1]
    neg = [p for p, t in zip(positive, truth) if t == 0]
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    accuracy = sum(r["label"] == t for r, t in zip(rows, truth)) / len(rows)
    return {"accuracy": accuracy, "roc_auc": sum(pairs) / len(pairs)}
