"""MMF's baselines under MMF's registry names; each import registers one model."""

from mmf_imgtune.models.baselines import (  # noqa: F401
    butd,
    concat_bert,
    late_fusion,
    mmbt,
    unimodal_image,
    unimodal_text,
    visual_bert,
)
