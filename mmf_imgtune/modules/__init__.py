"""Building blocks: losses, metrics (registered on import) and fusion layers."""

from mmf_imgtune.modules import losses, metrics  # noqa: F401
