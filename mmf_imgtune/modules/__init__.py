"""Building blocks: losses, metrics (registered on import) and fusion layers."""

from mmf_imgtune.modules import losses, metrics  # noqa: F401
from mmf_imgtune.modules import text_metrics  # noqa: F401
