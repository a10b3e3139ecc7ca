"""The Lightning-based training runtime (``training.trainer: lightning``)."""

from mmf_imgtune.trainer.run import build_model, run_training

__all__ = ["build_model", "run_training"]
