"""A Lightning ``Trainer`` from MMF's ``training.*`` keys.

Devices, DDP/FSDP/DeepSpeed strategies and multi-node launches (torchrun, SLURM) are
Lightning's: this module only translates MMF's names.
"""

from __future__ import annotations

import warnings
from typing import Any

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.trainer.callbacks import build_callbacks
from mmf_imgtune.trainer.checkpoint_io import AtomicCheckpointIO
from mmf_imgtune.trainer.console import console_callbacks
from mmf_imgtune.trainer.loggers import build_loggers

PRECISIONS = ("32", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64")


def _on_gpu(training: DictConfig) -> bool:
    accelerator = str(training.accelerator)
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def resolve_precision(training: DictConfig) -> str:
    """``precision`` wins; else ``fp16`` means 16-mixed on GPU. On CPU, fp16 AMP does not
    exist, so 16-mixed falls back to bf16-mixed with a warning."""
    precision = str(training.precision) if training.precision is not None else None
    if precision is None:
        precision = "16-mixed" if training.fp16 else "32-true"
    if precision not in PRECISIONS:
        raise ValueError(f"training.precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    if precision.startswith("16") and not _on_gpu(training):
        warnings.warn("fp16 needs a GPU; using bf16-mixed on the CPU instead", stacklevel=2)
        precision = "bf16-mixed"
    return precision


def _strategy(training: DictConfig) -> Any:
    name = str(training.strategy)
    if name == "ddp" and not _on_gpu(training):
        # gloo is the CPU backend; Lightning's default for CPU DDP too, stated for clarity.
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(process_group_backend="gloo")
    return name


def build_trainer(config: DictConfig, save_dir: str, resume_step: int | None = None) -> pl.Trainer:
    """``resume_step``: the update a resumed run continues from (its logs keep the past)."""
    training = config.training
    max_updates = training.max_updates
    max_epochs = training.max_epochs
    if max_updates is None and max_epochs is None:
        raise ConfigError("set training.max_updates or training.max_epochs (both are null)")
    update_frequency = int(training.update_frequency)
    callbacks = build_callbacks(config, save_dir)
    # A bar in a terminal, MMF-style progress lines in logs (console.py).
    console, progress_bar = console_callbacks(training)
    callbacks += console
    loggers = build_loggers(str(config.env.log_dir), resume_step)
    return pl.Trainer(
        default_root_dir=save_dir,
        accelerator=str(training.accelerator),
        devices=training.devices,
        num_nodes=int(training.num_nodes),
        strategy=_strategy(training),
        precision=resolve_precision(training),
        max_steps=int(max_updates) if max_updates is not None else -1,
        max_epochs=int(max_epochs) if max_epochs is not None else (None if max_updates else 1),
        accumulate_grad_batches=update_frequency,
        gradient_clip_val=float(training.max_grad_l2_norm) if training.clip_gradients else None,
        gradient_clip_algorithm="norm",
        val_check_interval=int(training.evaluation_interval) * update_frequency,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        log_every_n_steps=int(training.log_interval),
        callbacks=callbacks,
        logger=loggers,
        enable_checkpointing=False,  # MMFCheckpoint writes MMF's files
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        use_distributed_sampler=False,  # ResumableBatchSampler shards by rank itself
        plugins=[AtomicCheckpointIO()],
        deterministic=False,
    )
