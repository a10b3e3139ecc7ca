"""``benchmarks/memory_soak.py`` still runs (its figures are read by people, not asserted)."""

import subprocess
import sys

import pytest

from mmf_imgtune.utils.testing import REPO_ROOT

pytestmark = pytest.mark.slow


def test_soak_on_lmdb_data_prints_rss_series():
    result = subprocess.run(
        [sys.executable, "benchmarks/memory_soak.py", "--updates", "40", "--workers", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("start: RSS")
    samples = [line for line in lines if line.startswith("update")]
    assert len(samples) == 10 and samples[-1].startswith("update     40: RSS")
