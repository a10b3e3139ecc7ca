"""Fixture: a tiny ``shapes`` data set generated and feature-extracted once per module."""

import pytest
from shapes_helpers import tiny_config


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(config, builder) with train/val/test generated and their region features extracted."""
    import torch

    from mmf_imgtune.registry import registry

    torch.set_num_threads(1)
    config = tiny_config(tmp_path_factory.mktemp("shapes"))
    builder = registry.get_builder_class("shapes")()
    for split in ("train", "val", "test"):
        builder.build(config, split, progress=False)
    return config, builder
