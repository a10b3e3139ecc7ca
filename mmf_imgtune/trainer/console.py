"""What a training run prints: MMF-style progress lines in logs, a bar only in a terminal.

In a non-interactive log (stdout not a TTY: SLURM, CI, ``| tee``), or with
``training.progress_bar=false``, ``ProgressLog`` prints one line every ``training.log_interval``
updates, as MMF's trainer does::

    [mmf_imgtune] progress: 200/1000, train/total_loss: 0.6931, lr: 5.00e-05, samples/s: 812.4,
    epoch: 1, time: 12s, eta: 48s

(one line), and one line after each validation with its metrics. In a terminal with
``progress_bar=true`` Lightning's tqdm bar is kept. ``quiet_third_party`` removes the known
noise of a normal run: Lightning's hardware summary and adverts ("GPU available: ...",
"💡 Tip: ..."), its stop notice, and deprecation warnings raised inside third-party code;
any other warning or message still shows.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar
from omegaconf import DictConfig

# Lightning's info lines that say nothing about the run (hardware summary, adverts, the stop
# notice every max_updates run ends with).
_LIGHTNING_NOISE = (
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "IPU available:",
    "💡 Tip:",
    "`Trainer.fit` stopped:",
    "You are using a CUDA device",
    "LOCAL_RANK:",
)
# Warnings of third-party internals, or hints our runtime already answers (it logs every
# log_interval updates whatever Lightning's batch count; workers are training.num_workers).
_WARNING_NOISE = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r"The number of training batches \(\d+\) is smaller than the logging interval.*",
    r"The '\w+_dataloader' does not have many workers.*",
    r"`is_gradient_checkpointing` is deprecated.*",  # transformers 5, called by peft
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(_LIGHTNING_NOISE)


def quiet_third_party() -> None:
    """Drop the known noise of a normal run (idempotent; other messages still show)."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise())
    for pattern in _WARNING_NOISE:
        warnings.filterwarnings("ignore", message=pattern)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


class ProgressLog(pl.Callback):
    """One MMF-style line every ``log_interval`` updates and after every validation.

    Args:
        log_interval: updates between lines.
        stream: where lines go (stdout).
    """

    def __init__(self, log_interval: int, stream: Any = None):
        self.log_interval = max(1, int(log_interval))
        self.stream = stream
        self._reset_window(time.perf_counter(), 0)
        self._start = time.perf_counter()

    def _reset_window(self, now: float, step: int) -> None:
        self._window_start, self._window_step = now, step
        self._samples, self._loss_sum, self._losses = 0, 0.0, 0

    def _print(self, trainer: pl.Trainer, line: str) -> None:
        if trainer.is_global_zero:
            print(f"[mmf_imgtune] {line}", file=self.stream or sys.stdout, flush=True)

    @staticmethod
    def _total_updates(trainer: pl.Trainer) -> int:
        if trainer.max_steps and trainer.max_steps > 0:
            return int(trainer.max_steps)
        return int(trainer.estimated_stepping_batches)

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._start = time.perf_counter()
        self._reset_window(self._start, trainer.global_step)  # a resumed run starts mid-way

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, *args: Any
    ) -> None:
        self._samples += batch.get_batch_size() * trainer.world_size
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:  # None: a batch skipped for a non-finite loss
            self._loss_sum = self._loss_sum + loss.detach()  # summed on device: no sync here
            self._losses += 1
        step = trainer.global_step
        if step % self.log_interval or step == self._window_step:
            return
        if trainer.fit_loop._should_accumulate():
            return
        now = time.perf_counter()
        per_update = (now - self._window_start) / (step - self._window_step)
        total = self._total_updates(trainer)
        parts = [f"progress: {step}/{total}"]
        if self._losses:
            parts.append(f"train/total_loss: {float(self._loss_sum) / self._losses:.4f}")
        for index, group in enumerate(trainer.optimizers[0].param_groups[:2]):
            parts.append(f"{'lr' if not index else f'lr_{index}'}: {group['lr']:.2e}")
        parts.append(f"samples/s: {self._samples / max(now - self._window_start, 1e-9):.1f}")
        parts.append(f"epoch: {trainer.current_epoch + 1}")
        parts.append(f"time: {_duration(now - self._start)}")
        parts.append(f"eta: {_duration(max(0, total - step) * per_update)}")
        self._print(trainer, ", ".join(parts))
        self._reset_window(now, step)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = getattr(pl_module, "last_metrics", {})
        shown = ", ".join(
            f"{k}: {v:.4f}" for k, v in sorted(metrics.items()) if k.startswith("val/")
        )
        at = f" at update {trainer.global_step}" if trainer.state.fn == "fit" else ""
        self._print(trainer, f"validation{at}: {shown or 'no metrics'}")


def console_callbacks(training: DictConfig) -> tuple[list[pl.Callback], bool]:
    """(callbacks, whether Lightning shows its progress bar) for ``training``'s settings."""
    quiet_third_party()
    interactive = sys.stdout.isatty()
    if training.progress_bar and interactive:
        return [TQDMProgressBar(refresh_rate=max(1, int(training.log_interval) // 2))], True
    return [ProgressLog(int(training.log_interval))], False
