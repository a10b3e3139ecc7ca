"""Test set-up: offline, deterministic, small thread pools (CI machines have 2 cores)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed_and_env(monkeypatch, tmp_path):
    torch.manual_seed(0)
    # Runs write under the test's own folder unless a test says otherwise.
    monkeypatch.setenv("MMF_SAVE_DIR", str(tmp_path / "save"))
    monkeypatch.setenv("MMF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MMF_USER_DIR", raising=False)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
