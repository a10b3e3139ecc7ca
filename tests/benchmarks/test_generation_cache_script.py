"""``benchmarks/generation_cache.py`` runs and both of its loops agree (tiny settings)."""

import subprocess
import sys

from mmf_imgtune.utils.testing import REPO_ROOT


def test_cached_and_uncached_decoding_agree():
    result = subprocess.run(
        [sys.executable, "benchmarks/generation_cache.py", "--new-tokens", "6", "--layers", "1",
         "--hidden", "64", "--batch", "2", "--beams", "2", "--threads", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "same tokens: True" in result.stdout and "speed-up: " in result.stdout
