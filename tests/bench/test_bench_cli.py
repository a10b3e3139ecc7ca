"""``mmf_imgtune_bench`` end to end: real runs on toy, a failing model, resume.

The bench itself runs in the test process (``main``); each run is still its own subprocess.
"""

import json
import time

import pytest

from mmf_imgtune.cli.bench import main

pytestmark = pytest.mark.slow

SUITE = """
name: two-models
dataset: toy
main_metric: toy/accuracy
report_split: test
budget: {max_updates: 6, batch_size: 8, evaluation_interval: 3}
seeds: [3]
overrides: [training.log_interval=2, "dataset_config.toy.sizes={train: 64, val: 32, test: 32}"]
models:
  - {model: unimodal_text, config: projects/baselines/configs/toy/unimodal_text.yaml}
  - {model: concat_bert, config: projects/baselines/configs/toy/concat_bert.yaml}
  - label: broken
    model: concat_bert
    config: projects/baselines/configs/toy/concat_bert.yaml
    overrides: [model_config.concat_bert.image_encoder.feature_dim=7]
"""


def test_two_model_suite_writes_table_plot_json_and_resumes(tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    # toy is generated in memory: nothing to prepare.
    args = ["--suite", str(suite), "--out", str(out), "--no-prepare", "--timeout", "600"]
    main(args)
    first = capsys.readouterr().out
    assert "[1/3] unimodal_text seed 3: done" in first
    assert "[3/3] broken seed 3: FAILED" in first
    # Progress while a run trains, at its log_interval (2 of 6 updates): update, loss, ETA.
    lines = [line for line in first.splitlines() if line.startswith("[2/3] concat_bert seed 3: ")]
    progress = [line for line in lines if "progress: " in line]
    assert [line.split("progress: ")[1].split(",")[0] for line in progress] == ["2/6", "4/6", "6/6"]
    assert all("train/total_loss: " in line and "eta: " in line for line in progress)
    assert any("validation at update 3: val/total_loss: " in line for line in lines)

    results = json.loads((out / "results.json").read_text())
    for label in ("unimodal_text", "concat_bert"):
        summary = results["models"][label]["summary"]
        accuracy = summary["metrics"]["test/toy/accuracy"]
        run = json.loads((out / "runs" / label / "seed_3" / "save" / "metrics.json").read_text())
        # One seed: the mean is that run's own value, with no spread.
        assert accuracy == {"mean": run["metrics"]["test/toy/accuracy"], "std": None}
        # Every run writes its test predictions.
        (predictions,) = run["predictions"]
        assert predictions.endswith("toy_" + label + "_test_predictions.json")
        assert len(json.loads(open(predictions).read())) == 32
        assert summary["trainable_parameters"] > 0 and summary["peak_rss_mb"] > 100
        assert summary["train_seconds"] > 0 and summary["samples_per_s"] > 0
        run = results["models"][label]["runs"]["3"]
        assert run["num_updates"] == 6
        assert [step for step, _ in run["curve"]][:2] == [3, 6]
    concat = results["models"]["concat_bert"]["summary"]
    text = results["models"]["unimodal_text"]["summary"]
    assert concat["parameters"] > text["parameters"]  # concat_bert adds the image path
    broken = results["models"]["broken"]["summary"]
    assert broken["runs_ok"] == 0 and "feature_dim" in broken["error"]
    assert (out / "runs" / "broken" / "seed_3" / "error.json").is_file()

    table = (out / "results.md").read_text()
    assert "**test/toy/accuracy**" in table and "| broken | FAILED" in table
    row = next(line for line in table.splitlines() if line.startswith("| concat_bert |"))
    assert f"{concat['metrics']['test/toy/accuracy']['mean']:.4f} ± n/a" in row
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"

    # Resume: finished runs are reused untouched; only the failed one is tried again.
    stamp = (out / "runs" / "concat_bert" / "seed_3" / "result.json").stat().st_mtime
    time.sleep(0.01)
    main(args)
    again = capsys.readouterr().out
    assert "concat_bert seed 3: reused existing result" in again
    assert "broken seed 3: FAILED" in again
    assert (out / "runs" / "concat_bert" / "seed_3" / "result.json").stat().st_mtime == stamp
