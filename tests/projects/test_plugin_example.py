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
    assert 0.0 <= metrics["metrics"]["val/tsv_memes/roc_auc"] <= 1.0
    rows = json.loads(
        (save / "reports" / "tsv_memes_concat_bert_test_predictions.json").read_text()
    )
    assert sorted(r["id"] for r in rows) == list(range(20001, 20033))  # both ranks, no repeats
