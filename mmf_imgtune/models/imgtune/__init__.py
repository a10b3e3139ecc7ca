"""ImgTune: region features fused into a Hugging Face causal LLM (model registered as
``imgtune``)."""

from mmf_imgtune.models.imgtune.model import ImgTune

__all__ = ["ImgTune"]
