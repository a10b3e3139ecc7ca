"""benchmarks/real_pictures.py's target check on made-up suite results (no training)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "real_pictures.py"
spec = importlib.util.spec_from_file_location("real_pictures", SCRIPT)
real_pictures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real_pictures)
KEY = "test/image_text_jsonl/cider"


def results(ours, control, butd, margin_std):
    def model(mean):
        return {"summary": {"metrics": {KEY: {"mean": mean, "std": 0.0}}}}

    margin = {"mean": ours - control, "std": margin_std, "seeds": [1, 2, 3]}
    return {"models": {"imgtune": model(ours), "imgtune_text_only": model(control),
                       "butd": model(butd)},
            "margins": {"imgtune - imgtune_text_only": {KEY: margin}}}  # fmt: skip


def test_target_needs_every_baseline_and_a_margin_beyond_its_spread():
    assert real_pictures.target(results(0.5, 0.2, 0.4, 0.1), KEY)["met"]
    below_baseline = real_pictures.target(results(0.5, 0.2, 0.6, 0.1), KEY)
    assert not below_baseline["met"] and below_baseline["above_text_only_beyond_spread"]
    within_spread = real_pictures.target(results(0.5, 0.45, 0.4, 0.1), KEY)
    assert not within_spread["met"] and within_spread["above_every_baseline"]


def test_target_is_not_met_without_any_baseline():
    data = results(0.5, 0.2, 0.4, 0.1)
    del data["models"]["butd"]
    assert not real_pictures.target(data, KEY)["above_every_baseline"]


def test_every_dataset_and_task_names_a_builtin_suite_and_a_converter():
    import importlib

    from mmf_imgtune.bench.suite import builtin_suites

    for dataset, (_, converter) in real_pictures.DATASETS.items():
        assert callable(importlib.import_module(converter).run)
        for task in real_pictures.TASKS:
            assert real_pictures.suite_of(dataset, task) in builtin_suites()


def test_a_wrong_task_stops_before_any_download(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        real_pictures.main(["--out", str(tmp_path), "--dataset", "openclipart", "--tasks", "vqa"])
    assert "no suite for dataset 'openclipart' and task 'vqa'" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
