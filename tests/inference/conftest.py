"""Fixtures of the inference tests: tiny shapes VQA runs and their exports, shared by the
export, pipeline and server tests (helpers in export_helpers.py)."""

import pytest
from export_helpers import FUSIONS, TINY_CONFIG, question_rows, train_and_predict


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """{fusion: run} of three tiny LoRA runs on one shapes data folder."""
    root = tmp_path_factory.mktemp("tiny_runs")
    runs = {}
    for fusion in FUSIONS:
        config = root / f"{fusion}.yaml"
        config.write_text(TINY_CONFIG.format(fusion=fusion))
        runs[fusion] = train_and_predict(root, str(config), fusion)
        runs[fusion]["data"] = root / "data" / "shapes"
    return runs


@pytest.fixture(scope="session")
def tiny_exports(tiny_runs, tmp_path_factory):
    """{(fusion, merged): export folder} of every tiny run, LoRA merged and not."""
    from mmf_imgtune.inference.export import export_run

    root = tmp_path_factory.mktemp("tiny_exports")
    return {
        (fusion, merged): export_run(run["save"], root / f"{fusion}_{merged}", merge_lora=merged)
        for fusion, run in tiny_runs.items()
        for merged in (False, True)
    }


@pytest.fixture(scope="session")
def questions(tiny_runs):
    """The test split's questions (one data folder for every tiny run)."""
    return question_rows(tiny_runs["prefix"]["data"])
