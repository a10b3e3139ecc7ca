"""Models; each import registers one (explicit list, no globbing)."""

from mmf_imgtune.models import (
    baselines,  # noqa: F401
    imgtune,  # noqa: F401
    toy_classifier,  # noqa: F401
)
from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.imgtune import pretrained  # noqa: F401  (${package_dir:...} resolvers)

__all__ = ["BaseModel"]
