"""The Lightning-based training runtime (the one training loop)."""

from mmf_imgtune.trainer.run import build_model, run_training

__all__ = ["build_model", "run_training"]
