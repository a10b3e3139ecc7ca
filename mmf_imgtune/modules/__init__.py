"""Building blocks: losses, metrics (registered on import) and fusion layers."""

from mmf_imgtune.modules import (  # noqa: F401
    losses,
    metrics,
    multiclass_metrics,
    text_metrics,  # noqa: F401
)
