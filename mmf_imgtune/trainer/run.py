"""``run_training(config)``: everything ``mmf_run`` does after the config is built."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig

from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.config.loader import save_config
from mmf_imgtune.config.run_type import RunPhases
from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.registry import registry
from mmf_imgtune.trainer.build import apply_cpu_threads, build_trainer
from mmf_imgtune.trainer.checkpoint_io import checkpoint_step
from mmf_imgtune.trainer.console import quiet_third_party
from mmf_imgtune.trainer.datamodule import MMFDataModule, per_device_batch_size
from mmf_imgtune.trainer.lightning_module import MMFLightningModule
from mmf_imgtune.trainer.load_run import build_model, load_model_weights, load_run
from mmf_imgtune.trainer.optim import check_optimization
from mmf_imgtune.trainer.report import print_metrics


def resume_path(config: DictConfig) -> str | None:
    """The checkpoint to continue from: resume_file, best.ckpt, or current.ckpt."""
    ckpt = config.checkpoint
    save_dir = Path(config.env.save_dir)
    # A checkpoint is a file, or a folder of shards (training.strategy=fsdp).
    if ckpt.resume_file:
        if not os.path.exists(ckpt.resume_file):
            raise FileNotFoundError(f"checkpoint.resume_file '{ckpt.resume_file}' does not exist")
        return str(ckpt.resume_file)
    if ckpt.resume_best:
        best = save_dir / "best.ckpt"
        if not best.exists():
            raise FileNotFoundError(f"checkpoint.resume_best=true but {best} does not exist")
        return str(best)
    if ckpt.resume and (save_dir / "current.ckpt").exists():
        return str(save_dir / "current.ckpt")
    return None


def write_predictions(rows_by_dataset: dict[str, list[dict]], config: DictConfig) -> list[str]:
    folder = Path(config.env.report_dir)
    fmt = str(config.evaluation.predict_file_format)
    if fmt not in ("json", "csv"):
        raise ValueError(f"evaluation.predict_file_format must be json or csv, got '{fmt}'")
    written = []
    for dataset, rows in rows_by_dataset.items():
        path = folder / f"{dataset}_{config.model}_test_predictions.{fmt}"
        if fmt == "json":
            data = json.dumps(rows, indent=1).encode()
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()) if rows else ["id"])
            writer.writeheader()
            writer.writerows(rows)
            data = buffer.getvalue().encode()
        atomic_write(path, data, fsync_folder=True, clear_orphans=True)
        written.append(str(path))
    return written


def _gather_predictions(trainer: pl.Trainer, rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
    merged: dict[str, list[dict]] = {}
    for part in _gather_object(trainer, rows):
        for name, items in part.items():
            merged.setdefault(name, []).extend(items)
    return merged


def _gather_object(trainer: pl.Trainer, value: Any) -> list:
    """``value`` of every process, in rank order ([value] in one process)."""
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return [value]
    gathered: list[Any] = [None] * trainer.world_size
    torch.distributed.all_gather_object(gathered, value)
    return gathered


def _loop_seconds(trainer: pl.Trainer) -> float:
    return sum(getattr(cb, "loop_seconds", 0.0) for cb in trainer.callbacks)


def _build_run(config: DictConfig, phases: RunPhases, save_dir: str) -> tuple:
    """Model, Lightning module, data module, trainer and the checkpoint to resume from.

    A ValueError here is a bad config (a model key, precision, strategy, batch size, ...): it
    becomes a ConfigError, which ``mmf_run`` prints as one line.
    """
    try:
        ckpt = resume_path(config)
        if ckpt and not phases.train:
            # mmf_predict / evaluation of a finished run: opened as every tool opens one, with
            # the command line's config (MMF's semantics: it may name other data).
            model = load_run(ckpt, config=config).model
        else:
            model = build_model(config)
            if config.checkpoint.resume_pretrained:
                load_model_weights(model, str(config.checkpoint.resume_pretrained))
        module = MMFLightningModule(model, config)
        datamodule = MMFDataModule(config)
        resume_step = checkpoint_step(ckpt) if ckpt and phases.train else None
        trainer = build_trainer(config, save_dir, resume_step, model)
        per_device_batch_size(config, trainer.world_size)  # fails now, not inside fit
        check_optimization(config)
    except ValueError as error:
        if isinstance(error, MMFImgtuneError):
            raise
        raise ConfigError(str(error)) from error
    return model, module, datamodule, trainer, ckpt


def _train_command(save_dir: str) -> str | None:
    """The training command an earlier metrics.json of ``save_dir`` recorded, if any."""
    path = Path(save_dir) / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("train_command")
    except (OSError, ValueError, AttributeError):
        return None


def run_training(config: DictConfig, command: str | None = None) -> dict[str, Any]:
    """Train/evaluate/predict as ``run_type`` says; returns the final metrics and facts.

    ``command``: the command line that started the run, kept in metrics.json."""
    quiet_third_party()  # before the model is built: LLM/peft warnings come from there too
    phases = RunPhases.parse(config.run_type)
    save_dir = str(config.env.save_dir)
    os.makedirs(save_dir, exist_ok=True)
    save_config(config, save_dir)
    registry.register("config", config)
    pl.seed_everything(int(config.training.seed), workers=True, verbose=False)
    apply_cpu_threads(config.training)  # before the model is built: its loading uses them too

    model, module, datamodule, trainer, ckpt = _build_run(config, phases, save_dir)
    total, trainable = model.count_parameters()
    if phases.train and os.environ.get("LOCAL_RANK", "0") == "0":
        # Build data before the clock starts (Lightning's own call inside fit then finds it
        # done); processes started by a DDP launcher (LOCAL_RANK > 0) leave it to rank 0.
        datamodule.prepare_data()
    started = time.perf_counter()

    if phases.train:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt)
    train_seconds = time.perf_counter() - started
    if phases.val:
        trainer.validate(module, datamodule=datamodule, verbose=False)
    predictions_files: list[str] = []
    if phases.test:
        module.collect_predictions = bool(config.evaluation.predict)
        trainer.test(module, datamodule=datamodule, verbose=False)
        if module.collect_predictions:
            rows = _gather_predictions(trainer, module.predictions)
            if trainer.is_global_zero:
                predictions_files = write_predictions(rows, config)
    result = {
        "metrics": dict(module.last_metrics),
        "num_updates": int(trainer.global_step),
        "parameters": total,
        "trainable_parameters": trainable,
        "train_seconds": round(train_seconds, 3),
        "train_loop_seconds": round(_loop_seconds(trainer), 3),
        "predictions": predictions_files,
        "save_dir": save_dir,
        "skipped_nonfinite_batches": module.skipped_nonfinite,
        "metric_notes": dict(module.metric_notes),
        "generated_text": dict(module.generation_summaries),
        # Intra-op threads of every process (rank order): their sum should fit the cores.
        "cpu_threads_per_rank": _gather_object(trainer, torch.get_num_threads()),
        "precision": str(trainer.precision),
        "command": command,
        # An evaluation-only run (mmf_predict) keeps the command that trained the model.
        "train_command": command if phases.train else _train_command(save_dir),
    }
    if trainer.is_global_zero:
        data = json.dumps(result, indent=1).encode()
        atomic_write(Path(save_dir) / "metrics.json", data, fsync_folder=True, clear_orphans=True)
        print_metrics(result, config)
    return result
