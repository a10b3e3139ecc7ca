"""``load_run``: one way to open a finished run, by its folder or by a checkpoint in it."""

import pytest
import torch

from mmf_imgtune.trainer.load_run import RunLoadError, load_run
from mmf_imgtune.utils.testing import checkpoint_weights


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """The save folder of a 4-update toy_classifier run (best.ckpt, current.ckpt, models/)."""
    from mmf_imgtune.cli.run import run

    save = tmp_path_factory.mktemp("toy_run") / "save"
    run(["model=toy_classifier", "dataset=toy", "run_type=train_val", f"env.save_dir={save}",
         "training.max_updates=4", "training.batch_size=8", "training.evaluation_interval=2",
         "training.checkpoint_interval=2", "training.progress_bar=false"])  # fmt: skip
    return save


def _state(run):
    return {k: v for k, v in run.model.state_dict().items()}


def test_folder_and_checkpoint_path_give_the_same_weights(toy_run):
    by_folder = load_run(toy_run)  # best.ckpt first
    by_path = load_run(toy_run / "best.ckpt")
    assert by_folder.checkpoint == toy_run / "best.ckpt"
    assert by_folder.save_dir == by_path.save_dir == toy_run
    assert not by_folder.model.training
    a, b = _state(by_folder), _state(by_path)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    stored = checkpoint_weights(toy_run / "best.ckpt")
    for key, value in a.items():
        assert torch.equal(stored[f"model.{key}"], value), key


def test_checkpoint_under_models_finds_the_config_one_folder_up(toy_run):
    checkpoint = next((toy_run / "models").glob("model_*.ckpt"))
    run = load_run(checkpoint)
    assert run.save_dir == toy_run and run.checkpoint == checkpoint
    same = load_run(toy_run, checkpoint=f"models/{checkpoint.name}")
    for key, value in _state(run).items():
        assert torch.equal(_state(same)[key], value), key


def test_processors_are_the_first_datasets(toy_run):
    run = load_run(toy_run, checkpoint="current.ckpt")
    assert run.dataset == "toy"
    assert set(run.processors) == set(run.config.dataset_config.toy.get("processors") or {})
    assert run.processor("no_such_kind") is None


def test_bad_paths_name_the_missing_file(tmp_path, toy_run):
    with pytest.raises(RunLoadError, match=f"no config.yaml in {tmp_path}"):
        load_run(tmp_path)
    (tmp_path / "config.yaml").write_text((toy_run / "config.yaml").read_text())
    with pytest.raises(
        RunLoadError, match=f"no checkpoint best.ckpt or current.ckpt in {tmp_path}"
    ):
        load_run(tmp_path)
    with pytest.raises(RunLoadError, match="no checkpoint last.ckpt in"):
        load_run(toy_run, checkpoint="last.ckpt")
    with pytest.raises(RunLoadError, match="no checkpoint or run folder at .*missing.ckpt"):
        load_run(toy_run / "missing.ckpt")


def test_predict_opens_a_lone_checkpoint_with_the_command_line_config(tmp_path, toy_run):
    """mmf_predict (run_type=test, checkpoint.resume_file) goes through load_run with its
    composed config, so a checkpoint copied away from its run folder still opens, and the
    test metrics are those of the stored weights."""
    import shutil

    from mmf_imgtune.cli.run import run

    lone = tmp_path / "elsewhere" / "model.ckpt"
    lone.parent.mkdir()
    shutil.copyfile(toy_run / "best.ckpt", lone)
    args = ["model=toy_classifier", "dataset=toy", "run_type=test",
            "training.batch_size=8", "training.progress_bar=false"]  # fmt: skip
    from_copy = run([*args, f"env.save_dir={tmp_path / 'a'}", f"checkpoint.resume_file={lone}"])
    from_run = run(
        [*args, f"env.save_dir={tmp_path / 'b'}", f"checkpoint.resume_file={toy_run}/best.ckpt"]
    )
    untrained = run([*args, f"env.save_dir={tmp_path / 'c'}"])
    assert from_copy["metrics"] and from_copy["metrics"] == from_run["metrics"]
    assert from_copy["metrics"] != untrained["metrics"]  # the weights were loaded
    opened = load_run(lone, config=load_run(toy_run).config)
    assert opened.checkpoint == lone
    for key, value in checkpoint_weights(lone).items():
        assert torch.equal(opened.model.state_dict()[key.removeprefix("model.")], value), key
