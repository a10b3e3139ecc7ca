"""Crash safety and numerical faults of the training runtime."""

import errno
import json
import os
import pickle

import pytest
import torch

from mmf_imgtune.config import build_config
from mmf_imgtune.io.atomic import TMP_MARK, DiskFullError, atomic_write
from mmf_imgtune.trainer import run_training
from mmf_imgtune.trainer.checkpoint_io import safe_torch_load
from mmf_imgtune.trainer.lightning_module import NonFiniteLossError
from mmf_imgtune.utils.testing import TINY_RUN

BASE = ["model=toy_classifier", "dataset=toy", *TINY_RUN]


def _config(tmp_path, *extra):
    return build_config([*BASE, f"env.save_dir={tmp_path / 'run'}", *extra])


class _PoisonAfter(torch.nn.Module):
    """Wraps the toy model's classifier so the loss turns NaN after `after` training batches."""

    def __init__(self, inner, after):
        super().__init__()
        self.inner, self.after, self.calls = inner, after, 0

    def forward(self, x):
        out = self.inner(x)
        if not self.training:
            return out
        self.calls += 1
        return out * float("nan") if self.calls > self.after else out


def _poison(monkeypatch, after):
    from mmf_imgtune.trainer import run as run_module

    original = run_module.build_model

    def build(config):
        model = original(config)
        model.classifier = _PoisonAfter(model.classifier, after)
        return model

    monkeypatch.setattr(run_module, "build_model", build)


def test_nan_loss_stops_with_update_and_batch_ids_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    _poison(monkeypatch, after=8)
    config = _config(tmp_path)
    with pytest.raises(NonFiniteLossError) as error:
        run_training(config)
    message = str(error.value)
    assert "update 9" in message and "batch ids [" in message and "nan_policy=skip" in message
    checkpoint = safe_torch_load(tmp_path / "run" / "current.ckpt")
    assert checkpoint["global_step"] == 6
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())


def test_nan_policy_skip_counts_and_finishes(tmp_path, monkeypatch):
    _poison(monkeypatch, after=10)
    result = run_training(_config(tmp_path, "training.nan_policy=skip", "run_type=train"))
    assert result["skipped_nonfinite_batches"] == 2  # calls 11 and 12 of 12
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["skipped_nonfinite_batches"] == 2


def _poison_gradient(monkeypatch, after):
    """The loss stays finite; image_proj.weight's gradient turns NaN after `after` backwards."""
    from mmf_imgtune.trainer import run as run_module

    original = run_module.build_model

    def build(config):
        model = original(config)
        calls = {"n": 0}

        def hook(grad):
            calls["n"] += 1
            return grad * float("nan") if calls["n"] > after else grad

        model.image_proj.weight.register_hook(hook)
        return model

    monkeypatch.setattr(run_module, "build_model", build)


def test_nan_gradient_with_finite_loss_names_the_parameter_and_update(tmp_path, monkeypatch):
    _poison_gradient(monkeypatch, after=3)
    with pytest.raises(NonFiniteLossError) as error:
        run_training(_config(tmp_path, "run_type=train"))
    message = str(error.value)
    # embed.weight comes first in model order and stays finite: the poisoned one is named.
    assert message.startswith("gradient of image_proj.weight (") and "at update 4 " in message


def test_nan_gradient_skipped_leaves_weights_finite(tmp_path, monkeypatch):
    _poison_gradient(monkeypatch, after=10)
    result = run_training(_config(tmp_path, "training.nan_policy=skip", "run_type=train"))
    assert result["skipped_nonfinite_batches"] == 2  # backwards 11 and 12 of 12
    checkpoint = safe_torch_load(tmp_path / "run" / "current.ckpt")
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())


def test_disk_full_stops_clearly_and_keeps_previous_checkpoint(tmp_path, monkeypatch):
    from mmf_imgtune.trainer import checkpoint_io

    real_save = torch.save
    calls = {"n": 0}

    def failing_save(obj, handle, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:  # the first checkpoint (update 6) succeeds, the next one fails
            handle.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpoint_io.torch, "save", failing_save)
    with pytest.raises(DiskFullError, match="no space left.*previous file is intact.*max_to_keep"):
        run_training(_config(tmp_path, "run_type=train"))
    monkeypatch.setattr(checkpoint_io.torch, "save", real_save)
    run = tmp_path / "run"
    assert safe_torch_load(run / "current.ckpt")["global_step"] == 6
    assert not [p for p in run.rglob(f"*{TMP_MARK}*")], "temporary files were left behind"


def test_atomic_write_leaves_old_file_when_writer_dies(tmp_path):
    target = tmp_path / "x.bin"
    target.write_bytes(b"good")

    def dies(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, dies)
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["x.bin"]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/mmf_imgtune_pwned",))


def test_crafted_checkpoint_is_refused(tmp_path):
    unpickler, torch_load = pickle.Unpickler, torch.load
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Exploit()}, path)
    with pytest.raises(RuntimeError, match="refused to load"):
        safe_torch_load(path)
    assert not os.path.exists("/tmp/mmf_imgtune_pwned")
    # The same through the run: resume_file with a planted pickle fails before running it.
    with pytest.raises(RuntimeError, match="refused to load"):
        run_training(_config(tmp_path, f"checkpoint.resume_file={path}"))
    # The refusal patches nothing global: pickle and torch.load are the same objects, and
    # ordinary pickles still load.
    assert pickle.Unpickler is unpickler and torch.load is torch_load
    assert pickle.loads(pickle.dumps({"a": [1, 2.5]})) == {"a": [1, 2.5]}
