"""Fixtures of the baseline tests."""

import pytest
from baseline_helpers import synthetic_batch


@pytest.fixture
def batch():
    return synthetic_batch()
