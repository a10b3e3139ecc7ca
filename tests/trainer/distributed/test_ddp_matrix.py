"""Every ImgTune task x fusion x LLM regime and every baseline under DDP (gloo, two
processes, one launch): the gradient DDP averages equals one process's on the whole batch,
every trainable parameter gets one, and a second step runs. See dist_helpers.py."""

import json

import pytest
import torch.multiprocessing as mp
from dist_helpers import all_cases, case_name, free_port, matrix_worker

pytestmark = pytest.mark.slow

CONTROLS = {
    # DDP's own error at step 2, the crash ImgTune had before its LM head was frozen.
    "binary-prefix-full-lm_head": "Expected to have finished reduction in the prior iteration",
    "retrieval-prefix-full-local_negatives": "differs from one process",
}


def test_every_model_trains_under_ddp_like_one_process(tmp_path):
    cases = all_cases()
    mp.start_processes(
        matrix_worker,
        args=(2, free_port(), cases, str(tmp_path)),
        nprocs=2,
        start_method="spawn",
    )
    for rank in (0, 1):
        results = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert sorted(results) == sorted(case_name(c) for c in cases)
        for name, expected in CONTROLS.items():
            assert expected in results.pop(name), (name, "the check missed a known defect")
        failures = {name: result for name, result in results.items() if result != "ok"}
        assert not failures, json.dumps(failures, indent=1)
