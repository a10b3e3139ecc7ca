"""Configs and plugin folders run no code they smuggle in, and wrong values fail naming the
key: yaml is loaded safely, interpolations only call registered resolvers, ``env.user_dir``
imports the package it names and nothing else."""

import sys

import pytest

from mmf_imgtune.config import ConfigError, build_config
from mmf_imgtune.utils.testing import run_cli, write_plugin
from mmf_imgtune.utils.user_dir import import_user_dir

TOY = ["model=toy_classifier", "dataset=toy"]


def _config_file(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return f"config={path}"


def test_yaml_python_tags_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = f'training:\n  seed: !!python/object/apply:os.system ["touch {marker}"]\n'
    with pytest.raises(ConfigError, match=r"run\.yaml: cannot parse yaml.*python/object/apply"):
        build_config([_config_file(tmp_path, evil), *TOY])
    assert not marker.exists()


def test_interpolations_never_evaluate_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"training:\n  seed: \"${{eval:__import__('os').system('touch {marker}')}}\"\n"
    with pytest.raises(ConfigError, match=r"run\.yaml: cannot parse yaml"):
        build_config([_config_file(tmp_path, evil), *TOY])
    evil = f"training:\n  seed: ${{eval:'touch {marker}'}}\n"
    with pytest.raises(ConfigError, match=r"'training\.seed'.*run\.yaml.*Unsupported interp"):
        build_config([_config_file(tmp_path, evil), *TOY])
    with pytest.raises(ConfigError, match=r"'training\.batch_size'"):
        build_config([*TOY, "training.batch_size=${training.no_such_key}"])
    assert not marker.exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.max_updates=1.5", r"'training\.max_updates' must be a whole number"),
        ("training.seed=null", r"'training\.seed' must be a number \(like 1\), got null"),
        ("training.batch_size=many", r"'training\.batch_size' must be a number"),
        ("training.progress_bar=3", r"'training\.progress_bar' must be a bool"),
        ("model_config.toy_classifier.hidden_size=wide", "hidden_size' must be a number"),
    ],
)
def test_override_of_the_wrong_type_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        build_config([*TOY, override])


def test_file_value_of_the_wrong_type_names_file_and_key(tmp_path):
    text = "model_config:\n  toy_classifier:\n    hidden_size: 1.5\n"
    with pytest.raises(ConfigError, match=r"run\.yaml: 'model_config\.toy_classifier\.hidden"):
        build_config([_config_file(tmp_path, text), *TOY])
    # New keys stay allowed there (plugins read their own), and ints may be written as 1e2.
    text = "model_config:\n  toy_classifier:\n    my_key: 1\n    hidden_size: 1.0e+2\n"
    config = build_config([_config_file(tmp_path, text), *TOY])
    assert config.model_config.toy_classifier.my_key == 1


def test_values_lightning_takes_beyond_the_default_type():
    assert build_config([*TOY, "training.devices=auto"]).training.devices == "auto"
    training = build_config([*TOY, "training.max_updates=null", "training.max_epochs=1"]).training
    assert training.max_updates is None and training.max_epochs == 1


def test_user_dir_imports_only_the_named_package(tmp_path):
    marker = tmp_path / "sibling_ran"
    # Next to the plugin: a module that must never run, and one shadowing the stdlib.
    (tmp_path / "sibling_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "colorsys.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    plugin = write_plugin(tmp_path, "isolated_plugin", {"__init__.py": "from . import part\n",
                                                         "part.py": "VALUE = 7\n"})  # fmt: skip
    path_before = list(sys.path)
    module = import_user_dir(str(plugin))
    assert module.part.VALUE == 7 and sys.path == path_before
    with pytest.raises(ImportError):
        __import__("sibling_module")
    import colorsys

    assert colorsys.__file__ != str(tmp_path / "colorsys.py") and not marker.exists()


def test_user_dir_whose_name_is_taken_is_refused(tmp_path):
    plugin = write_plugin(tmp_path, "json", {"__init__.py": "raise SystemExit('ran')\n"})
    with pytest.raises(ImportError, match="a module named 'json' is already imported"):
        import_user_dir(str(plugin))


@pytest.mark.slow
def test_cli_reports_bad_data_in_one_line_without_traceback(tmp_path):
    root = tmp_path / "data" / "datasets" / "image_text_jsonl"
    root.mkdir(parents=True)
    (root / "train.jsonl").write_text('{"image": "a.png", "text": "a cat", "label": "cat"}\n')
    (root / "val.jsonl").write_text('{"image": "a.png", "text": "a cat", "label": 1}\n')
    words = "{word_level: {words: [a, cat]}}"
    params = "dataset_config.image_text_jsonl.processors.text_processor.params"
    result = run_cli(
        ["model=toy_classifier", "dataset=image_text_jsonl", "run_type=train",
         "dataset_config.image_text_jsonl.use_features=false", f"{params}.tokenizer={words}",
         f"env.data_dir={tmp_path / 'data'}"],
        tmp_path / "save",
    )  # fmt: skip
    assert result.returncode == 1
    assert "mmf_run: error: " in result.stderr and "train.jsonl:1: 'label' must be" in result.stderr
    assert "Traceback" not in result.stderr
