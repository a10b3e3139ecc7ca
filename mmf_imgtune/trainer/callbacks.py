"""Callbacks: MMF's checkpoint files, throughput logging, early stopping, user callbacks."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping
from omegaconf import DictConfig

from mmf_imgtune.io.atomic import temp_path
from mmf_imgtune.registry import registry
from mmf_imgtune.trainer.checkpoint_io import point_link_at, remove_checkpoint


def _link_or_copy(source: Path, target: Path) -> None:
    """Point ``target`` at ``source``'s bytes atomically (hard link, else copy)."""
    tmp = temp_path(target)
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


class MMFCheckpoint(pl.Callback):
    """``models/model_<update>.ckpt`` every ``checkpoint_interval`` updates (the newest
    ``max_to_keep`` kept), ``current.ckpt`` pointing at the newest, and ``best.ckpt`` whenever
    the early-stop criteria metric improves at an evaluation.

    A checkpoint is a file, or a folder under FSDP with sharded state; ``current.ckpt`` is then
    a symlink to the newest folder (a file is hard-linked)."""

    def __init__(
        self, save_dir: str, interval: int, max_to_keep: int, monitor: str, minimize: bool
    ):
        self.save_dir = Path(save_dir)
        self.interval = interval
        self.max_to_keep = max_to_keep
        self.monitor = monitor
        self.minimize = minimize
        self.best: float | None = None
        self._last_saved_step = -1

    def _save_numbered(self, trainer: pl.Trainer) -> None:
        step = trainer.global_step
        if step == self._last_saved_step:
            return
        numbered = self.save_dir / "models" / f"model_{step}.ckpt"
        trainer.save_checkpoint(numbered, weights_only=False)
        if trainer.is_global_zero:
            if numbered.is_dir():
                point_link_at(numbered, self.save_dir / "current.ckpt")
            else:
                _link_or_copy(numbered, self.save_dir / "current.ckpt")
            self._prune()
        trainer.strategy.barrier("mmf_checkpoint")
        self._last_saved_step = step

    def _prune(self) -> None:
        if self.max_to_keep is None or self.max_to_keep < 1:
            return
        folder = self.save_dir / "models"
        files = sorted(folder.glob("model_*.ckpt"), key=lambda p: int(p.stem.split("_")[1]))
        for old in files[: -self.max_to_keep]:
            remove_checkpoint(old)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
        step = trainer.global_step
        # Only right after an optimizer step (not mid-accumulation), every `interval` updates.
        if step and step % self.interval == 0 and not trainer.fit_loop._should_accumulate():
            self._save_numbered(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.global_step:
            self._save_numbered(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        better = self.best is None or (value < self.best if self.minimize else value > self.best)
        if better:
            self.best = value
            trainer.save_checkpoint(self.save_dir / "best.ckpt", weights_only=False)

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best = state_dict.get("best")


class Throughput(pl.Callback):
    """Logs samples/s (shown in the progress bar) and the learning rate every few updates."""

    def __init__(self, log_interval: int):
        self.log_interval = max(1, log_interval)
        self._start: float | None = None
        self._samples = 0
        # Wall time of the training loop alone (set-up and start-up excluded).
        self.loop_seconds = 0.0
        self._loop_start = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._loop_start = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self.loop_seconds += time.perf_counter() - self._loop_start

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: Any, batch: Any, *args: Any
    ) -> None:
        if self._start is None:
            self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, *args: Any
    ) -> None:
        self._samples += batch.get_batch_size() * trainer.world_size
        if trainer.global_step % self.log_interval or trainer.fit_loop._should_accumulate():
            return
        elapsed = time.perf_counter() - (self._start or time.perf_counter())
        if elapsed > 0 and self._samples:
            pl_module.log("train/samples_per_s", self._samples / elapsed, prog_bar=True)
        for index, group in enumerate(
            trainer.optimizers[0].param_groups if trainer.optimizers else []
        ):
            pl_module.log(f"train/lr_{index}" if index else "train/lr", group["lr"])
        self._start, self._samples = time.perf_counter(), 0


def monitor_key(config: DictConfig) -> str:
    """``training.early_stop.criteria`` (e.g. ``hateful_memes/roc_auc``) as a logged key."""
    criteria = str(config.training.early_stop.criteria)
    return criteria if criteria.startswith("val/") else f"val/{criteria}"


def build_callbacks(config: DictConfig, save_dir: str) -> list[pl.Callback]:
    training = config.training
    early = training.early_stop
    callbacks: list[pl.Callback] = [
        MMFCheckpoint(
            save_dir,
            int(training.checkpoint_interval),
            int(config.checkpoint.max_to_keep),
            monitor_key(config),
            bool(early.minimize),
        ),
        Throughput(int(training.log_interval)),
    ]
    if early.enabled:
        callbacks.append(
            EarlyStopping(
                monitor=monitor_key(config),
                mode="min" if early.minimize else "max",
                patience=int(early.patience),
                check_on_train_epoch_end=False,
                strict=True,
            )
        )
    for spec in training.callbacks or []:
        callbacks.append(registry.build("callback", spec, config=config))
    return callbacks
