"""One LightningModule that trains any ``BaseModel`` with MMF's semantics.

It owns optimisers, schedulers, logging, whole-split metrics and prediction collection; the
model stays a plain ``nn.Module``. Exact resume: randomness is re-seeded from
``(seed, batch number, rank)`` before every training batch, and the number of batches trained
in the current epoch is checkpointed (``mmf_progress``) and, on load, handed to the data
module's public ``resume_at`` so the sampler skips exactly those.
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torchmetrics
from omegaconf import DictConfig

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.modules.metrics import Metrics
from mmf_imgtune.trainer.attention_kernel import training_attention
from mmf_imgtune.trainer.frozen_weights import keep_frozen_in_autocast_dtype
from mmf_imgtune.trainer.optim import build_optimizer, build_scheduler


class NonFiniteLossError(MMFImgtuneError, FloatingPointError):
    """The loss or a gradient became NaN/Inf; the message names the update and the batch ids
    or the first parameter whose gradient is not finite."""


def _batch_ids(batch: Any, limit: int = 8) -> list:
    ids = batch.get("id") if hasattr(batch, "get") else None
    if ids is None:
        return []
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    return ids[:limit]


class MMFLightningModule(pl.LightningModule):
    def __init__(self, model: torch.nn.Module, config: DictConfig):
        super().__init__()
        self.model = model
        self.config = config
        self.dataset_names = list(config.datasets)
        metric_list = config.evaluation.metrics
        self.metrics = torch.nn.ModuleDict(
            {
                f"{split}_{name}": Metrics(metric_list)
                for split in ("val", "test")
                for name in self.dataset_names
            }
        )
        self.eval_losses = torch.nn.ModuleDict(
            {
                f"{split}_{name}": torchmetrics.MeanMetric()
                for split in ("val", "test")
                for name in self.dataset_names
            }
        )
        # Progress within the current epoch, checkpointed for exact resume.
        self.batches_in_epoch = 0
        self.total_batches = 0
        self.predictions: dict[str, list[dict]] = {}
        self.collect_predictions = False
        self.last_metrics: dict[str, float] = {}
        # How metrics scored (tokenizer, VQA rule) and generated-text variety per split/dataset.
        self.metric_notes: dict[str, str] = {}
        self.generation_summaries: dict[str, dict] = {}
        self.skipped_nonfinite = 0
        self._compiled = False
        # Read once: an OmegaConf lookup costs microseconds, and these run at every batch.
        training = config.training
        self._seed = int(training.seed)
        self._log_every = max(1, int(training.log_interval) * int(training.update_frequency))

    def setup(self, stage: str) -> None:
        # Before DDP wraps the model and before a checkpoint is restored into it (Lightning's
        # order), so the restored frozen weights land in the dtype they were saved in.
        precision = str(self.trainer.precision)
        keep_frozen_in_autocast_dtype(self.model, precision, str(self.config.training.strategy))
        if self.config.training.compile and not self._compiled:
            # In place: parameter names, checkpoints and the optimizer see the same module.
            self.model.compile()
            self._compiled = True

    # --- training -----------------------------------------------------------------------
    def _reseed(self) -> None:
        value = (self._seed * 1_000_003 + self.total_batches * 7919 + self.global_rank) % (2**31)
        # The CPU generator directly: torch.manual_seed also walks every accelerator backend.
        torch.default_generator.manual_seed(value)
        if torch.cuda.is_initialized():  # False without CUDA, decided without a device query
            torch.cuda.manual_seed_all(value)
        np.random.seed(value)
        random.seed(value)

    def on_train_epoch_start(self) -> None:
        # Lightning does not call this when it resumes mid-epoch, so the restored count stays.
        self.batches_in_epoch = 0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        self._reseed()
        self.batches_in_epoch += 1
        self.total_batches += 1
        with training_attention(str(self.trainer.precision), self.device.type == "cpu"):
            output = self.model(batch)
        losses = output.get("losses") or {}
        if not losses:
            raise RuntimeError(
                f"{type(self.model).__name__} returned no losses: return output['losses'] or "
                "list losses under model_config.<model>.losses"
            )
        loss = sum(value.mean() for value in losses.values())
        if not torch.isfinite(loss):
            return self._non_finite(loss, batch)
        if self._log_this_step():
            batch_size = batch.get_batch_size()
            for key, value in losses.items():
                self.log(key, value.detach().mean(), batch_size=batch_size)
            self.log("train/total_loss", loss.detach(), prog_bar=True, batch_size=batch_size)
        return loss

    def _log_this_step(self) -> bool:
        # self.log costs about as much as a small model's step: log only what gets written.
        return self.total_batches % self._log_every == 0 or self.total_batches == 1

    def _non_finite(self, loss: torch.Tensor, batch: Any) -> None:
        update = self.global_step + 1
        message = (
            f"loss is {loss.item()} at update {update} (dataset {batch.get('dataset_name')}, "
            f"batch ids {_batch_ids(batch)}). The last good checkpoint is kept; lower the "
            "learning rate, enable training.clip_gradients, or set training.nan_policy=skip."
        )
        if self.config.training.nan_policy == "skip":
            self.skipped_nonfinite += 1
            self.print(f"Skipping a batch: {message}")
            return None  # Lightning skips backward and the optimizer step
        raise NonFiniteLossError(message)

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """Stop (or skip, with ``nan_policy=skip``) at the first update with a NaN/Inf
        gradient, naming the first such parameter: a finite loss can still have one, and the
        NaN loss it causes one update later points at the wrong batch."""
        if getattr(self.trainer.precision_plugin, "scaler", None) is not None:
            return  # fp16's GradScaler expects overflowing steps and skips them itself
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads or torch.isfinite(torch.nn.utils.get_total_norm(grads)):
            return  # one fused norm and one sync per update; names are looked up only on failure
        name, grad = next(
            (n, p.grad)
            for n, p in self.model.named_parameters()
            if p.grad is not None and not torch.isfinite(p.grad).all()
        )
        bad = int((~torch.isfinite(grad)).sum())
        message = (
            f"gradient of {name} {tuple(grad.shape)} has {bad} non-finite values at update "
            f"{self.global_step + 1} (the first such parameter in model order; the loss was "
            "finite). The last good checkpoint is kept; look for a norm of an all-zero vector "
            "or a 0/0 upstream, lower the learning rate, or set training.nan_policy=skip."
        )
        if self.config.training.nan_policy == "skip":
            self.skipped_nonfinite += 1
            self.print(f"Skipping an update: {message}")
            optimizer.zero_grad(set_to_none=True)  # parameters without a gradient stay put
            return
        raise NonFiniteLossError(message)

    def configure_gradient_clipping(
        self, optimizer: Any, gradient_clip_val: Any = None, gradient_clip_algorithm: Any = None
    ) -> None:
        """Clip by the L2 norm of the whole gradient and log that norm (before clipping) as
        ``train/grad_norm``. Under FSDP each rank holds a shard of the gradient: the strategy
        takes the norm over all shards (Lightning's own clipping would raise there)."""
        if not gradient_clip_val:
            return
        clip = getattr(self.trainer.strategy, "clip_grad_norm", None)
        if clip is not None:
            norm = clip(float(gradient_clip_val))
        else:
            parameters = self.trainer.precision_plugin.main_params(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(parameters, float(gradient_clip_val))
        if self._log_this_step():
            self.log("train/grad_norm", norm.detach().float())

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.model, self.config)
        scheduler = build_scheduler(optimizer, self.config)
        if scheduler is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # --- evaluation ---------------------------------------------------------------------
    def _eval_step(self, batch: Any, split: str) -> None:
        output = self.model(batch)
        name = batch["dataset_name"]
        key = f"{split}_{name}"
        # Each metric scores the batches that carry its references (targets, captions,
        # answers); a split without any (e.g. test_unseen) only predicts.
        self.metrics[key].update(batch, output)
        losses = output.get("losses") or {}
        if losses:
            total = sum(value.detach().mean() for value in losses.values())
            self.eval_losses[key].update(total, weight=batch.get_batch_size())
        if self.collect_predictions and split == "test":
            self.predictions.setdefault(name, []).extend(
                self._format_predictions(batch, output, name)
            )

    def _format_predictions(self, batch: Any, output: dict, name: str) -> list[dict]:
        rows = self.model.format_for_prediction(batch, output)
        if rows is None:  # the dataset maps class indices to answers (MMFDataModule's hand-off)
            rows = self.trainer.datamodule.format_for_prediction("test", name, {**batch, **output})
        return rows

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, split: str) -> None:
        results: dict[str, float] = {}
        total_losses = []
        for name in self.dataset_names:
            key = f"{split}_{name}"
            if self.eval_losses[key].update_count:
                value = float(self.eval_losses[key].compute())
                results[f"{split}/{name}/total_loss"] = value
                total_losses.append(value)
            metrics = self.metrics[key]
            if metrics.metrics and metrics.labelled():
                results.update(metrics.compute(split, name))  # raises if one scored nothing
                self.metric_notes.update(metrics.notes)
                if metrics.generation:
                    self.generation_summaries[f"{split}/{name}"] = metrics.generation
            elif metrics.metrics and metrics.batches:
                self.print(
                    f"[mmf_imgtune] {split}/{name}: no batch carries "
                    f"{metrics.missing_references()}: an unlabelled split, no metrics"
                )
            self.metrics[key].reset()
            self.eval_losses[key].reset()
        if total_losses:
            results[f"{split}/total_loss"] = float(np.mean(total_losses))
        for key, value in results.items():
            self.log(key, value, sync_dist=False, add_dataloader_idx=False)
        self.last_metrics.update(results)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    # --- checkpoint state ---------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["mmf_progress"] = {
            "epoch": int(self.current_epoch),
            "batches_in_epoch": int(self.batches_in_epoch),
            "total_batches": int(self.total_batches),
            "num_updates": int(self.global_step),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        progress = checkpoint.get("mmf_progress")
        if not progress:
            return
        self.batches_in_epoch = progress["batches_in_epoch"]
        self.total_batches = progress["total_batches"]
        # Lightning restores the module before it asks for the train loader: hand the
        # position to the data module (None when loaders were passed without one).
        datamodule = self.trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "resume_at"):
            datamodule.resume_at(progress["epoch"], progress["batches_in_epoch"])
