"""Renamed config keys: the old name is still read (from a file, the command line or a saved
run config) and the user is told the new one; both names at once fail."""

import pytest
from omegaconf import OmegaConf

from mmf_imgtune.config import ConfigError, build_config
from mmf_imgtune.config.deprecated import rename_deprecated_keys

BASE = ["model=toy_classifier", "dataset=shapes"]


def test_old_section_in_a_file_is_read_as_extract_with_a_note(tmp_path):
    config_file = tmp_path / "old.yaml"
    config_file.write_text(
        "dataset_config:\n  shapes:\n    feature_extraction:\n      min_size: 64\n"
    )
    with pytest.warns(FutureWarning, match=r"old\.yaml: dataset_config\.shapes\.feature_extr"):
        config = build_config([*BASE, f"config={config_file}"])
    shapes = config.dataset_config.shapes
    assert "feature_extraction" not in shapes
    assert shapes.extract.min_size == 64 and shapes.extract.max_size == 256  # default kept


def test_old_override_is_read_as_extract_with_a_note():
    with pytest.warns(FutureWarning, match="dataset_config.shapes.extract.max_size"):
        config = build_config([*BASE, "dataset_config.shapes.feature_extraction.max_size=96"])
    assert config.dataset_config.shapes.extract.max_size == 96


def test_both_names_at_once_fail_naming_the_file():
    config = OmegaConf.create(
        {"dataset_config": {"shapes": {"feature_extraction": {"layer": "mid"}, "extract": {}}}}
    )
    with pytest.raises(ConfigError, match="run.yaml: dataset_config.shapes sets both"):
        rename_deprecated_keys(config, "run.yaml")


def test_a_config_without_old_keys_is_left_alone():
    config = OmegaConf.create({"dataset_config": {"shapes": {"extract": {"layer": "mid"}}}})
    assert rename_deprecated_keys(config, "x") == config
