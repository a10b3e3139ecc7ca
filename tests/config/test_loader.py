import pytest

from mmf_imgtune.config import ConfigError, RunPhases, build_config, load_yaml

BASE = ["model=toy_classifier", "dataset=toy"]


def test_merge_order_defaults_model_dataset_file_override(tmp_path):
    config_file = tmp_path / "exp.yaml"
    config_file.write_text(
        "training:\n  batch_size: 4\n  max_updates: 7\n"
        "model_config:\n  toy_classifier:\n    hidden_size: 8\n"
    )
    config = build_config([*BASE, f"config={config_file}", "training.max_updates=9"])
    assert config.training.log_interval == 10  # runtime default
    assert config.model_config.toy_classifier.dropout == 0.1  # model default
    assert config.dataset_config.toy.max_features == 4  # dataset default
    assert config.model_config.toy_classifier.hidden_size == 8  # file beats model default
    assert config.training.batch_size == 4  # file beats runtime default
    assert config.training.max_updates == 9  # command line beats file


def test_includes_merge_in_order_below_own_keys(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text("training: {batch_size: 1, seed: 5}\n")
    (tmp_path / "b.yaml").write_text("training: {batch_size: 2}\n")
    (tmp_path / "exp.yaml").write_text(
        "includes: [sub/a.yaml, b.yaml]\ntraining: {max_updates: 3}\n"
    )
    config = load_yaml(tmp_path / "exp.yaml")
    assert config.training == {"batch_size": 2, "seed": 5, "max_updates": 3}
    assert "includes" not in config


def test_include_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("includes: [b.yaml]\n")
    (tmp_path / "b.yaml").write_text("includes: [a.yaml]\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_yaml(tmp_path / "a.yaml")


def test_unknown_override_names_nearest_keys():
    with pytest.raises(ConfigError) as error:
        build_config([*BASE, "training.bach_size=3"])
    assert "training.batch_size" in str(error.value)


def test_unknown_key_in_config_file_names_file_and_key(tmp_path):
    config_file = tmp_path / "exp.yaml"
    config_file.write_text("training:\n  max_updatez: 3\n")
    with pytest.raises(ConfigError) as error:
        build_config([*BASE, f"config={config_file}"])
    assert str(config_file) in str(error.value) and "training.max_updates" in str(error.value)


def test_wrong_type_is_refused():
    with pytest.raises(ConfigError, match="training.max_updates"):
        build_config([*BASE, "training.max_updates=lots"])


def test_params_nodes_accept_new_keys():
    config = build_config([*BASE, "optimizer.params.betas=[0.9,0.98]"])
    assert list(config.optimizer.params.betas) == [0.9, 0.98]


def test_env_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MMF_DATA_DIR", str(tmp_path / "d"))
    config = build_config(BASE)
    assert config.env.data_dir == str(tmp_path / "d")
    assert config.env.log_dir == f"{config.env.save_dir}/logs"


def test_datasets_option_and_missing_model():
    assert list(build_config(["model=toy_classifier", "datasets=toy"]).datasets) == ["toy"]
    with pytest.raises(ConfigError, match="no model chosen"):
        build_config(["dataset=toy"])


def test_run_type_by_substring():
    assert RunPhases.parse("train_val_test") == RunPhases(True, True, True)
    assert RunPhases.parse("inference") == RunPhases(False, False, True)
    with pytest.raises(ValueError, match="names no phase"):
        RunPhases.parse("fit")
