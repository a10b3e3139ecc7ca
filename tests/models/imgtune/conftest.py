"""Fixtures for ImgTune tests (helpers live in imgtune_helpers.py)."""

import pytest
import torch
from imgtune_helpers import make_batch

from mmf_imgtune.common.sample import SampleList


@pytest.fixture(autouse=True)
def _one_thread():
    # CI boxes have 2 cores shared by several jobs; one thread avoids oversubscription.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def batch() -> SampleList:
    return make_batch()
