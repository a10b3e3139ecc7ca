"""End-to-end ``mmf_run`` / ``mmf_predict`` runs on tiny data (subprocesses, as users run)."""

import json

import pytest

from mmf_imgtune.utils.testing import (
    TINY_RUN,
    assert_same_weights,
    checkpoint_weights,
    last_logged,
    run_cli,
)

pytestmark = pytest.mark.slow


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_train_val_test_writes_checkpoints_metrics_config(tmp_path):
    save = tmp_path / "run"
    _ok(
        run_cli(
            [
                "model=toy_classifier",
                "dataset=toy",
                "run_type=train_val_test",
                "evaluation.metrics=[accuracy,roc_auc]",
                "checkpoint.max_to_keep=1",
                "training.early_stop.criteria=toy/accuracy",
                "training.early_stop.minimize=false",
                *TINY_RUN,
            ],
            save,
        )
    )
    assert (save / "current.ckpt").is_file() and (save / "best.ckpt").is_file()
    assert [p.name for p in (save / "models").iterdir()] == ["model_12.ckpt"]  # max_to_keep=1
    assert (save / "config.yaml").read_text().count("max_updates: 12") == 1
    result = json.loads((save / "metrics.json").read_text())
    assert result["num_updates"] == 12
    for key in ("val/toy/accuracy", "val/toy/roc_auc", "test/toy/accuracy", "val/toy/total_loss"):
        # metrics.json reports what the run logged last, not another computation of it.
        assert result["metrics"][key] == pytest.approx(last_logged(save, key), rel=1e-6), key
    for key in ("val/toy/accuracy", "test/toy/accuracy"):  # one value over the whole split
        correct = result["metrics"][key] * 128  # toy's val and test splits hold 128 samples
        assert correct == pytest.approx(round(correct), abs=1e-4), key


def test_predict_writes_one_row_per_test_sample(tmp_path):
    save = tmp_path / "run"
    _ok(run_cli(["model=toy_classifier", "dataset=toy", *TINY_RUN], save))
    _ok(
        run_cli(
            [
                "model=toy_classifier",
                "dataset=toy",
                f"checkpoint.resume_file={save}/current.ckpt",
                "evaluation.predict_file_format=csv",
                *TINY_RUN,
            ],
            save,
            command="mmf_imgtune_predict",
        )
    )
    lines = (save / "reports" / "toy_toy_classifier_test_predictions.csv").read_text().splitlines()
    assert lines[0].split(",") == ["id", "label", "confidence"]
    assert sorted(int(line.split(",")[0]) for line in lines[1:]) == list(range(128))


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, plugin_dir):
    common = [
        "model=parity_mlp",
        "dataset=parity",
        f"env.user_dir={plugin_dir}",
        "training.max_updates=40",
        "training.batch_size=16",
        "training.checkpoint_interval=10",
        "training.evaluation_interval=20",
        "training.progress_bar=false",
        "training.lr_scheduler=true",
        "scheduler.params.num_warmup_steps=5",
        "optimizer.params.lr=0.01",
        "evaluation.metrics=[accuracy]",
    ]
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    _ok(run_cli(common, straight))
    killed = run_cli(
        [*common, "training.callbacks=[{type: kill_after, params: {update: 23}}]"], crashed
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (crashed / "models" / "model_20.ckpt").is_file()
    assert not (crashed / "models" / "model_30.ckpt").exists()
    _ok(run_cli([*common, "checkpoint.resume=true"], crashed))
    assert_same_weights(
        checkpoint_weights(straight / "current.ckpt"), checkpoint_weights(crashed / "current.ckpt")
    )
    metrics_a = json.loads((straight / "metrics.json").read_text())["metrics"]
    metrics_b = json.loads((crashed / "metrics.json").read_text())["metrics"]
    assert metrics_a == metrics_b


def test_plugin_with_workers_and_two_datasets(tmp_path, plugin_dir):
    save = tmp_path / "run"
    _ok(
        run_cli(
            [
                "model=parity_mlp",
                "dataset=parity,parity_small",
                f"env.user_dir={plugin_dir}",
                "training.num_workers=2",
                "evaluation.metrics=[accuracy]",
                *TINY_RUN,
            ],
            save,
        )
    )
    metrics = json.loads((save / "metrics.json").read_text())["metrics"]
    assert {"val/parity/accuracy", "val/parity_small/accuracy", "val/total_loss"} <= set(metrics)
    train_log = (save / "logs" / "csv" / "metrics.csv").read_text()
    assert (
        "train/parity/cross_entropy" in train_log
        and "train/parity_small/cross_entropy" in train_log
    )


def test_ddp_two_processes_on_cpu(tmp_path, plugin_dir):
    save = tmp_path / "run"
    _ok(
        run_cli(
            [
                "model=parity_mlp",
                "dataset=parity",
                f"env.user_dir={plugin_dir}",
                "training.devices=2",
                "training.strategy=ddp",
                "training.accelerator=cpu",
                "evaluation.metrics=[accuracy]",
                "run_type=train_val_test",
                "evaluation.predict=true",
                *TINY_RUN,
            ],
            save,
        )
    )
    result = json.loads((save / "metrics.json").read_text())
    assert result["num_updates"] == 12
    # Both ranks' halves are gathered: the value is a count over all 256 samples, as logged.
    accuracy = result["metrics"]["val/parity/accuracy"]
    assert accuracy * 256 == pytest.approx(round(accuracy * 256), abs=1e-4)
    assert accuracy == pytest.approx(last_logged(save, "val/parity/accuracy"), rel=1e-6)
    rows = json.loads((save / "reports" / "parity_parity_mlp_test_predictions.json").read_text())
    assert sorted(r["id"] for r in rows) == list(range(256))  # both ranks' shards, no duplicates


def test_unknown_override_fails_with_suggestion(tmp_path):
    result = run_cli(["model=toy_classifier", "dataset=toy", "training.max_update=3"], tmp_path)
    assert result.returncode == 2
    assert "training.max_updates" in result.stderr
