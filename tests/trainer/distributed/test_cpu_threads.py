"""No oversubscription: two DDP ranks on the CPU share the usable cores instead of each taking
all of them (torch's default), and ``training.cpu_threads`` overrides the split."""

import json

import pytest

from mmf_imgtune.utils.hardware import usable_cores
from mmf_imgtune.utils.testing import run_cli

pytestmark = pytest.mark.slow

TOY_DDP = [
    "model=toy_classifier",
    "dataset=toy",
    "run_type=train",
    "training.accelerator=cpu",
    "training.strategy=ddp",
    "training.devices=2",
    "training.max_updates=2",
    "training.batch_size=8",
    "training.progress_bar=false",
    "dataset_config.toy.sizes={train: 32, val: 8, test: 8}",
]


def _threads(save_dir):
    return json.loads((save_dir / "metrics.json").read_text())["cpu_threads_per_rank"]


def test_two_cpu_ranks_split_the_cores_and_say_so_once(tmp_path):
    done = run_cli(TOY_DDP, tmp_path, env={"OMP_NUM_THREADS": ""})  # unset: the split decides
    assert done.returncode == 0, done.stderr[-3000:]
    expected = max(1, usable_cores() // 2)
    assert _threads(tmp_path) == [expected, expected]
    # Printed by local rank 0 only, naming the split.
    lines = [line for line in done.stderr.splitlines() if "CPU thread(s) per process" in line]
    assert lines == [
        f"training.cpu_threads: {expected} CPU thread(s) per process "
        f"({usable_cores()} usable cores / 2 process(es))"
    ]


def test_cpu_threads_overrides_the_split_and_omp_num_threads(tmp_path):
    done = run_cli([*TOY_DDP, "training.cpu_threads=3"], tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert _threads(tmp_path) == [3, 3]
    assert "training.cpu_threads: 3 CPU thread(s) per process (set by the user)" in done.stderr


def test_omp_num_threads_is_an_explicit_choice(tmp_path):
    done = run_cli(TOY_DDP, tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert _threads(tmp_path) == [1, 1]
    assert "training.cpu_threads: 1 CPU thread(s) per process (OMP_NUM_THREADS)" in done.stderr
