"""mmf_imgtune: an MMF-compatible multimodal framework that teaches LLMs to see.

Plugins import everything they need from here::

    from mmf_imgtune import registry, BaseModel, BaseDataset, BaseDatasetBuilder
    from mmf_imgtune import BaseProcessor, Sample, SampleList

A trained model out of its run (``mmf_imgtune_export``, docs/serving.md)::

    model = mmf_imgtune.ImgTune.from_pretrained("export_dir")
    pipe = mmf_imgtune.pipeline("export_dir", device="cpu")
"""

from mmf_imgtune import data, models, modules  # noqa: F401  (registers built-ins)
from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.base_dataset import BaseDataset
from mmf_imgtune.data.processors.base import BaseProcessor
from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.imgtune.model import ImgTune
from mmf_imgtune.registry import registry
from mmf_imgtune.version import __version__

__all__ = [
    "BaseDataset",
    "BaseDatasetBuilder",
    "BaseModel",
    "BaseProcessor",
    "ImgTune",
    "Sample",
    "SampleList",
    "__version__",
    "pipeline",
    "registry",
]


def __getattr__(name: str):
    # The pipeline (inference layer) loads on first use, not with every plugin import.
    if name == "pipeline":
        from mmf_imgtune.inference.pipeline import pipeline

        return pipeline
    raise AttributeError(f"module 'mmf_imgtune' has no attribute {name!r}")
