"""Suite loading, run arguments, aggregation, the markdown table and the plot (no training)."""

import json

import pytest

from mmf_imgtune.bench.plots import plot_results
from mmf_imgtune.bench.report import build_results, markdown_table, mean_std, write_reports
from mmf_imgtune.bench.suite import builtin_suites, load_suite
from mmf_imgtune.cli.bench import apply_options, parse_args


def _write(tmp_path, text):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return str(path)


SUITE = """
name: mini
dataset: toy
main_metric: toy/accuracy
report_split: test
budget: {max_updates: 12, batch_size: 16, evaluation_interval: 6}
seeds: [1, 2]
overrides: ["evaluation.metrics=[accuracy]"]
models:
  - {model: unimodal_text, config: projects/baselines/configs/toy/unimodal_text.yaml}
  - {label: cb, model: concat_bert, overrides: [training.update_frequency=1]}
"""


@pytest.mark.parametrize(
    "name",
    ["toy", "shapes-vqa", "shapes-classification", "shapes-caption", "jsonl-caption",
     "jsonl-vqa", "jsonl-classification", "ifct2017-caption", "ifct2017-classification",
     "openclipart-caption", "openclipart-classification"],
)  # fmt: skip
def test_builtin_suites_load(name):
    assert name in builtin_suites()
    suite = load_suite(name)
    assert suite.models and suite.seeds and suite.budget["max_updates"] > 0


def test_run_args_share_budget_and_seed_and_keep_model_config(tmp_path):
    suite = load_suite(_write(tmp_path, SUITE))
    args = suite.run_args(suite.models[1], 2, tmp_path / "save")
    assert "model=concat_bert" in args and "dataset=toy" in args
    assert "training.max_updates=12" in args and "training.batch_size=16" in args
    assert "training.seed=2" in args and f"env.save_dir={tmp_path / 'save'}" in args
    # Suite overrides come before the model's own, so a model can refine them.
    assert args.index("evaluation.metrics=[accuracy]") < args.index("training.update_frequency=1")
    first = suite.run_args(suite.models[0], 1, tmp_path)
    assert "config=projects/baselines/configs/toy/unimodal_text.yaml" in first


def test_bad_suites_name_the_problem(tmp_path):
    with pytest.raises(KeyError, match="modelz"):
        load_suite(_write(tmp_path, SUITE + "modelz: []\n"))
    with pytest.raises(FileNotFoundError, match="built-in"):
        load_suite("no-such-suite")
    with pytest.raises(ValueError, match="unique"):
        load_suite(_write(tmp_path, SUITE + "  - {label: cb, model: mmbt}\n"))


def test_command_line_narrows_models_and_replaces_budget(tmp_path):
    suite = load_suite(_write(tmp_path, SUITE))
    args = parse_args(
        [
            "--suite",
            "x",
            "--out",
            "y",
            "--models",
            "cb",
            "--seeds",
            "7",
            "--max-updates",
            "3",
            "--set",
            "training.log_interval=1",
        ]
    )
    narrowed = apply_options(suite, args)
    assert [m.label for m in narrowed.models] == ["cb"]
    assert narrowed.seeds == [7] and narrowed.budget["max_updates"] == 3
    assert narrowed.overrides[-1] == "training.log_interval=1"
    with pytest.raises(SystemExit, match="nope"):
        apply_options(suite, parse_args(["--suite", "x", "--out", "y", "--models", "nope"]))


def _record(accuracy, seconds):
    return {
        "status": "ok",
        "metrics": {"test/toy/accuracy": accuracy, "val/toy/accuracy": 0.1},
        "parameters": 100,
        "trainable_parameters": 60,
        "train_seconds": seconds,
        "samples_per_s": 50.0,
        "peak_rss_mb": 900.0,
        "peak_gpu_mb": None,
        "curve": [[6, accuracy - 0.1], [12, accuracy]],
    }


def test_aggregates_mean_std_and_reports_failures(tmp_path):
    suite = load_suite(_write(tmp_path, SUITE))
    records = {
        "unimodal_text": {1: _record(0.5, 2.0), 2: _record(0.7, 4.0)},
        "cb": {
            1: {
                "status": "failed",
                "returncode": 1,
                "error": "Traceback\nValueError: boom",
                "args": [],
            }
        },
    }
    results = write_reports(suite, records, tmp_path)
    summary = results["models"]["unimodal_text"]["summary"]
    mean, std = (
        summary["metrics"]["test/toy/accuracy"]["mean"],
        summary["metrics"]["test/toy/accuracy"]["std"],
    )
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1414, abs=1e-4)
    assert summary["train_seconds"] == pytest.approx(3.0)
    assert "val/toy/accuracy" not in summary["metrics"]  # only the report split
    table = (tmp_path / "results.md").read_text()
    assert "| unimodal_text | 0.6000 ± 0.1414 |" in table
    assert "| cb | FAILED: ValueError: boom |" in table
    assert (
        json.loads((tmp_path / "results.json").read_text())["models"]["cb"]["summary"][
            "runs_failed"
        ]
        == 1
    )
    png = plot_results(suite, results, tmp_path / "results.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_one_seed_shows_its_spread_as_na(tmp_path):
    assert mean_std([0.25]) == (0.25, None)
    suite = load_suite(_write(tmp_path, SUITE + "margins: [{model: unimodal_text, control: cb}]\n"))
    records = {"unimodal_text": {1: _record(0.25, 2.0)}, "cb": {1: _record(0.2, 2.0)}}
    results = build_results(suite, records)
    summary = results["models"]["unimodal_text"]["summary"]
    assert summary["metrics"]["test/toy/accuracy"] == {"mean": 0.25, "std": None}
    table = markdown_table(suite, results)
    rows = [line for line in table.splitlines() if line.startswith("| unimodal_text |")]
    assert rows == ["| unimodal_text | 0.2500 ± n/a | 100 | 60 | 2.0 | 50.0 | 900 | 1/1 |"]
    assert "| unimodal_text - cb | +0.0500 ± n/a |" in table
    assert "± 0.0000" not in table


def test_generated_text_variety_and_metric_notes_reach_the_report(tmp_path):
    suite = load_suite(_write(tmp_path, SUITE))
    record = _record(0.25, 2.0)
    record["metric_notes"] = {"test/toy/cider": "tokenizer: PTB", "val/toy/cider": "not shown"}
    record["generated_text"] = {
        "test/toy": {
            "generated": 118,
            "distinct": 35,
            "most_frequent": "A car.",
            "most_frequent_count": 24,
            "most_frequent_share": 24 / 118,
        }
    }
    empty = {**record, "generated_text": {"test/toy": {**record["generated_text"]["test/toy"],
                                                        "most_frequent": " "}}}  # fmt: skip
    results = write_reports(suite, {"unimodal_text": {1: record}, "cb": {1: empty}}, tmp_path)
    summary = results["models"]["unimodal_text"]["summary"]
    assert summary["generated_text"][1]["distinct"] == 35
    assert summary["metric_notes"] == {"test/toy/cider": "tokenizer: PTB"}
    table = (tmp_path / "results.md").read_text()
    assert "| unimodal_text | 1 | 35 / 118 | A car. | 24 (20.3%) |" in table
    assert "| cb | 1 | 35 / 118 | (empty) | 24 (20.3%) |" in table
    assert "- `test/toy/cider`: tokenizer: PTB" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["models"]["unimodal_text"]["summary"]["generated_text"]["1"]["distinct"] == 35


def test_dry_run_checks_every_config_and_trains_nothing(tmp_path, capsys):
    from mmf_imgtune.cli.bench import main

    bad = SUITE + "  - {label: typo, model: mmbt, overrides: [training.max_update=3]}\n"
    with pytest.raises(SystemExit) as exit_info:
        main(["--suite", _write(tmp_path, bad), "--out", str(tmp_path / "out"), "--dry-run"])
    assert exit_info.value.code == 1
    printed = capsys.readouterr().out
    assert "ok     unimodal_text: mmf_run model=unimodal_text dataset=toy" in printed
    assert "ERROR  typo:" in printed and "training.max_updates" in printed
    assert not (tmp_path / "out" / "results.json").exists()
