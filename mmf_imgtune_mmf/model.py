"""``imgtune`` in MMF's registry: ImgTune behind MMF's own ``BaseModel``.

MMF builds a model as ``cls(model_config.imgtune)``, ``build()``, ``init_losses()`` and calls it
with an MMF ``SampleList``. ``MMFImgTune`` keeps mmf_imgtune's ImgTune as ``self.core`` (so a
checkpoint's keys are ``core.*``), translates the batch (``translate.imgtune_batch``) and returns
ImgTune's ``scores`` and ``losses`` (keyed ``{split}/{dataset}/{loss}`` as MMF's are).
"""

from __future__ import annotations

from typing import Any

from mmf.common.registry import registry
from mmf.models.base_model import BaseModel
from omegaconf import OmegaConf

from mmf_imgtune.models.imgtune.model import ImgTune
from mmf_imgtune_mmf.config_paths import absolute_config_path
from mmf_imgtune_mmf.translate import imgtune_batch

# Model outputs MMF may gather across ranks or write to reports; tensors only.
_TENSOR_OUTPUTS = ("scores", "image_embedding", "text_embedding")


@registry.register_model("imgtune")
class MMFImgTune(BaseModel):
    """Args:
    config: MMF's ``model_config.imgtune`` node.
    """

    def __init__(self, config: Any):
        super().__init__(config)

    @classmethod
    def config_path(cls) -> str:
        return absolute_config_path("mmf_imgtune_mmf/configs/imgtune.yaml")

    def build(self) -> None:
        config = OmegaConf.to_container(self.config, resolve=True)
        config.pop("model", None)  # MMF's own key, not ImgTune's
        # MMF merged our yaml over its own; defaults fill what a user config leaves out.
        self.core = ImgTune(ImgTune.default_config(config)).init_from_config()

    def get_optimizer_parameters(self, config: Any) -> Any:
        return self.core.get_optimizer_parameters(config)

    def forward(self, sample_list: Any) -> dict:
        output = dict(self.core(imgtune_batch(sample_list)))
        losses = output.get("losses") or {}
        if self.training and not losses:
            raise ValueError(
                "ImgTune returned no loss for a training batch: the batch lacks 'labels' "
                f"(task=generation) or 'targets' (other tasks); fields: {list(sample_list)}"
            )
        output["losses"] = losses
        return output

    def format_for_prediction(self, results: list, report: Any) -> list:
        """MMF asks the dataset first; generated text replaces class predictions."""
        rows = self.core.format_for_prediction(report, report)
        return results if rows is None else rows
