"""mmf_imgtune: an MMF-compatible multimodal framework that teaches LLMs to see.

Plugins import everything they need from here::

    from mmf_imgtune import registry, BaseModel, BaseDataset, BaseDatasetBuilder
    from mmf_imgtune import BaseProcessor, Sample, SampleList
"""

from mmf_imgtune import data, models, modules  # noqa: F401  (registers built-ins)
from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.data.base_builder import BaseDatasetBuilder
from mmf_imgtune.data.base_dataset import BaseDataset
from mmf_imgtune.data.processors.base import BaseProcessor
from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.registry import registry
from mmf_imgtune.version import __version__

__all__ = [
    "BaseDataset",
    "BaseDatasetBuilder",
    "BaseModel",
    "BaseProcessor",
    "Sample",
    "SampleList",
    "__version__",
    "registry",
]
