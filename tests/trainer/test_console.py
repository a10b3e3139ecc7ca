"""A run's console in a log: MMF-style progress lines, no bar, none of the known noise."""

import re
import sys

from lightning.pytorch.callbacks import TQDMProgressBar
from omegaconf import OmegaConf

from mmf_imgtune.trainer.console import ProgressLog, console_callbacks
from mmf_imgtune.utils.testing import run_cli

NOISE = ("GPU available", "TPU available", "💡", "Tip:", "litlogger", "litmodels", "LeafSpec",
         "`Trainer.fit` stopped", "is deprecated", "does not have many workers",
         "smaller than the logging interval")  # fmt: skip
LINE = re.compile(
    r"^\[mmf_imgtune\] progress: (\d+)/30, train/total_loss: (\d+\.\d{4}), lr: (\S+), "
    r"samples/s: (\d+\.\d), epoch: (\d+), time: (\d+s|\d+m \d\ds), eta: (\d+s|\d+m \d\ds)$"
)


def test_non_interactive_run_prints_progress_lines_and_no_noise(tmp_path):
    done = run_cli(["model=toy_classifier", "dataset=toy", "training.max_updates=30",
                    "training.log_interval=10", "training.evaluation_interval=15",
                    "training.batch_size=16", "evaluation.metrics=[accuracy]",
                    "optimizer.params.lr=1e-3"], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    progress = [LINE.match(line) for line in lines if "progress:" in line]
    assert all(progress), [line for line in lines if "progress:" in line]
    assert [int(m.group(1)) for m in progress] == [10, 20, 30]
    assert all(float(m.group(3)) == 1e-3 and float(m.group(4)) > 0 for m in progress)
    assert progress[-1].group(7) == "0s" and progress[0].group(5) == "1"
    validation = [line for line in lines if line.startswith("[mmf_imgtune] validation at")]
    assert len(validation) == 2 and "val/toy/accuracy: " in validation[0]
    assert "\r" not in done.stdout + done.stderr  # no progress bar in a log
    for noise in NOISE:
        assert noise not in done.stdout + done.stderr, noise


def test_a_terminal_keeps_the_bar_unless_switched_off(monkeypatch):
    training = OmegaConf.create({"progress_bar": True, "log_interval": 10})
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    callbacks, bar = console_callbacks(training)
    assert bar and isinstance(callbacks[0], TQDMProgressBar)
    training.progress_bar = False
    callbacks, bar = console_callbacks(training)
    assert not bar and isinstance(callbacks[0], ProgressLog)


def test_known_third_party_noise_is_filtered_and_other_warnings_still_show():
    import logging
    import warnings

    from mmf_imgtune.trainer.console import quiet_third_party

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        warnings.warn(
            "`is_gradient_checkpointing` is deprecated and will go", FutureWarning, stacklevel=1
        )
        warnings.warn("something the user must see", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something the user must see"]
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    kept = [f.filter(logging.makeLogRecord({"msg": m})) for f in logger.filters
            for m in ("GPU available: False, used: False", "Restoring states from ckpt")]  # fmt: skip
    assert kept == [False, True]
