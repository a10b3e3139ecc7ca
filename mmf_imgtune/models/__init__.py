"""Models; each import registers one (explicit list, no globbing)."""

from mmf_imgtune.models import toy_classifier  # noqa: F401
from mmf_imgtune.models import imgtune  # noqa: F401
from mmf_imgtune.models.imgtune import pretrained  # noqa: F401  (${package_dir:...} resolvers)
from mmf_imgtune.models import baselines  # noqa: F401
from mmf_imgtune.models.base_model import BaseModel

__all__ = ["BaseModel"]
