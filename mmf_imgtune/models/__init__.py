"""Models; each import registers one (explicit list, no globbing)."""

from mmf_imgtune.models import toy_classifier  # noqa: F401
from mmf_imgtune.models.base_model import BaseModel

__all__ = ["BaseModel"]
