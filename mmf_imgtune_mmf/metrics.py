"""Our metrics in MMF's registry as ``imgtune_<name>`` (see ``metric_adapter``)."""

from __future__ import annotations

from typing import Any

from mmf.common.registry import registry
from mmf.modules.metrics import BaseMetric

from mmf_imgtune_mmf.metric_adapter import PREFIX, REQUIRED_PARAMS, adapted_names, calculate


def _metric_class(ours: str) -> type:
    class Adapted(BaseMetric):
        __doc__ = f"mmf_imgtune's ``{ours}`` over a whole split (MMF: ``{PREFIX}{ours}``)."

        def __init__(self, *args: Any, **params: Any):
            super().__init__(PREFIX + ours)
            self.required_params = list(REQUIRED_PARAMS[ours])
            self.params = params

        def calculate(self, sample_list: Any, model_output: Any, *args: Any, **kwargs: Any):
            report = dict(sample_list)
            report.update(model_output)
            return calculate(ours, report, self.params)

    Adapted.__name__ = Adapted.__qualname__ = f"MMF_{ours}"
    return Adapted


def register() -> None:
    for ours in adapted_names():
        registry.register_metric(PREFIX + ours)(_metric_class(ours))
