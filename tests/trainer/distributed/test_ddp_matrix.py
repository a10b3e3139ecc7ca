"""Every ImgTune task x fusion x LLM regime and every baseline under DDP (gloo, two
processes, one launch): the gradient DDP averages equals one process's on the whole batch,
every trainable parameter gets one, and a second step runs. See dist_helpers.py.

The planted defects (controls) that prove the check can fail run in a launch of their own:
one of them makes DDP raise mid-iteration, and nothing of that may reach the real cases."""

import json

import pytest
import torch.multiprocessing as mp
from dist_helpers import all_cases, case_name, control_cases, free_port, matrix_worker

pytestmark = pytest.mark.slow

CONTROLS = {
    # DDP's own error at step 2, the crash ImgTune had before its LM head was frozen.
    "binary-prefix-full-lm_head": "Expected to have finished reduction in the prior iteration",
    "retrieval-prefix-full-local_negatives": "differs from one process",
}


def launch(cases: list[dict], out_dir) -> list[dict]:
    """Both ranks' results; start_processes raises unless both workers exit with code 0."""
    mp.start_processes(
        matrix_worker,
        args=(2, free_port(), cases, str(out_dir)),
        nprocs=2,
        start_method="spawn",
    )
    return [json.loads((out_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]


def test_every_model_trains_under_ddp_like_one_process(tmp_path):
    cases = all_cases()
    assert not any("control" in case for case in cases)
    for results in launch(cases, tmp_path):
        assert sorted(results) == sorted(case_name(c) for c in cases)
        failures = {name: result for name, result in results.items() if result != "ok"}
        assert not failures, json.dumps(failures, indent=1)


def test_the_check_reports_planted_ddp_defects(tmp_path):
    cases = control_cases()
    assert sorted(case_name(c) for c in cases) == sorted(CONTROLS)
    for results in launch(cases, tmp_path):
        for name, expected in CONTROLS.items():
            assert expected in results[name], (name, "the check missed a known defect")
