"""The speed benchmarks run on tiny models and print their side-by-side figures."""

import re
import subprocess
import sys

from mmf_imgtune.utils.testing import REPO_ROOT


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_trainer_overhead_imgtune_prints_the_speed_against_a_bare_hf_loop():
    out = _run("benchmarks/trainer_overhead.py", "--model", "imgtune", "--updates", "3",
               "--repeats", "1", "--threads", "1", "--layers", "1", "--hidden", "32",
               "--batch-size", "4")  # fmt: skip
    assert "model: imgtune" in out and "median bare HF loop:" in out
    speed = re.search(r"speed: ([0-9.]+) \(bare / mmf_run\)", out)
    assert speed and float(speed.group(1)) > 0, out[-2000:]


def test_generation_vs_hf_prints_tokens_per_second_and_ratios_for_greedy_and_beam():
    out = _run("benchmarks/generation_vs_hf.py", "--new-tokens", "3", "--batch", "2",
               "--layers", "1", "--hidden", "64", "--repeats", "1", "--threads", "1",
               "--beams", "1", "2")  # fmt: skip
    for name in ("greedy", "beam 2"):
        line = next(line for line in out.splitlines() if line.startswith(name + ":"))
        assert re.search(r"imgtune [0-9.]+ tokens/s +HF generate [0-9.]+ tokens/s +ratio: ", line)
        assert line.endswith("same tokens: True"), line
