"""A Lightning ``Trainer`` from MMF's ``training.*`` keys.

Devices, the DDP/FSDP strategies and multi-node launches (torchrun, SLURM) are Lightning's:
this module translates MMF's names and refuses, in one line naming the key and the choices,
what would fail later.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import DictConfig

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.trainer.callbacks import build_callbacks
from mmf_imgtune.trainer.checkpoint_io import AtomicCheckpointIO
from mmf_imgtune.trainer.console import console_callbacks
from mmf_imgtune.trainer.loggers import build_loggers
from mmf_imgtune.utils.hardware import auto_precision, set_cpu_threads

# Lightning's precision names, and the aliases Lightning accepts for them.
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true")
PRECISION_ALIASES = {"32": "32-true", "64": "64-true", "16": "16-mixed", "bf16": "bf16-mixed"}
# What training.strategy may be (every one is tested on CPU: tests/trainer/distributed).
STRATEGIES = ("auto", "ddp", "fsdp")


def _on_gpu(training: DictConfig) -> bool:
    accelerator = str(training.accelerator)
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def _device(training: DictConfig) -> str:
    return "cuda" if _on_gpu(training) else "cpu"


def resolve_precision(training: DictConfig, announce: bool = False) -> str:
    """``precision`` (a Lightning name or alias: 32, bf16, 16, 64, ...) wins; else ``fp16``
    means 16-mixed. ``auto``: bf16-mixed where the device computes bf16 natively, else
    32-true (``utils/hardware.py``); with ``announce`` the choice and its reason are printed.
    On CPU, fp16 does not train, so 16-mixed/16-true fall back to bf16-mixed/bf16-true with a
    warning."""
    precision = str(training.precision) if training.precision is not None else None
    if precision is None:
        precision = "16-mixed" if training.fp16 else "32-true"
    if precision == "auto":
        precision, reason = auto_precision(_device(training))
        if announce:
            print(f"training.precision=auto -> {precision} ({reason})", file=sys.stderr)
        return precision
    precision = PRECISION_ALIASES.get(precision, precision)
    if precision not in PRECISIONS:
        raise ConfigError(
            f"training.precision={precision} is not a precision; use one of "
            f"{', '.join(PRECISIONS)}, auto (or the aliases {', '.join(PRECISION_ALIASES)})"
        )
    if precision.startswith("16") and not _on_gpu(training):
        fallback = precision.replace("16", "bf16", 1)
        warnings.warn(
            f"training.precision={precision} needs a GPU; using {fallback} on the CPU", stacklevel=2
        )
        precision = fallback
    return precision


def _strategy(training: DictConfig, model: torch.nn.Module | None) -> Any:
    name = str(training.strategy)
    if name.startswith("deepspeed"):
        raise ConfigError(
            f"training.strategy={name}: DeepSpeed is not supported (it cannot be tested here); "
            "use training.strategy=fsdp, which shards parameters, gradients and optimizer state"
        )
    if name not in STRATEGIES:
        raise ConfigError(f"training.strategy={name} is not one of {', '.join(STRATEGIES)}")
    backend = None if _on_gpu(training) else "gloo"  # gloo is the CPU backend
    if name == "ddp":
        # Every trainable parameter gets a gradient (tests/trainer/distributed check each model),
        # so DDP need not search the graph for unused ones.
        return DDPStrategy(process_group_backend=backend, find_unused_parameters=False)
    if name == "fsdp":
        # torch's FSDP modules load only for training.strategy=fsdp
        from mmf_imgtune.trainer.fsdp import MMFFSDPStrategy

        if model is None:
            raise ConfigError("training.strategy=fsdp needs the model to find its layers")
        try:
            return MMFFSDPStrategy(model, process_group_backend=backend)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    return name


def _is_local_zero() -> bool:
    # Processes a launcher started (LOCAL_RANK > 0) repeat rank 0's choices silently.
    return os.environ.get("LOCAL_RANK", "0") == "0"


def processes_per_node(training: DictConfig) -> int:
    """Processes of this node training together: torchrun's LOCAL_WORLD_SIZE, else
    ``training.devices`` (Lightning's launcher starts one process per device: a list counts
    its entries, ``auto`` every GPU, or one process on the CPU)."""
    if os.environ.get("LOCAL_WORLD_SIZE"):
        return int(os.environ["LOCAL_WORLD_SIZE"])
    devices = training.devices
    if isinstance(devices, int) or str(devices).isdigit():
        return max(1, int(devices))
    if str(devices) == "auto":
        return max(1, torch.cuda.device_count()) if _on_gpu(training) else 1
    return max(1, len(devices))


def apply_cpu_threads(training: DictConfig) -> int:
    """Intra-op threads of this process: ``training.cpu_threads``, else this node's usable
    cores split among its processes; printed once (by local rank 0)."""
    override = training.cpu_threads
    return set_cpu_threads(
        processes_per_node(training),
        None if override is None else int(override),
        who="training.cpu_threads",
        announce=_is_local_zero(),
    )


def build_trainer(
    config: DictConfig,
    save_dir: str,
    resume_step: int | None = None,
    model: torch.nn.Module | None = None,
) -> pl.Trainer:
    """``resume_step``: the update a resumed run continues from (its logs keep the past);
    ``model``: the BaseModel (FSDP wraps its layers)."""
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
        strategy=_strategy(training, model),
        precision=resolve_precision(training, announce=_is_local_zero()),
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
