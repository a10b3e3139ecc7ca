"""Fusion layers that turn region features into LLM inputs (ImgTune).

- ``projector``: region features -> LLM-width tokens (LLaVA's linear / MLP projector).
- ``resampler``: N regions -> K learned queries (Flamingo's Perceiver resampler).
- ``gated_xattn``: tanh-gated cross-attention blocks and the decoder-layer wrapper (Flamingo).
- ``region_encoder``: features + box geometry + object classes -> visual tokens and mask.
"""

from mmf_imgtune.modules.fusion.gated_xattn import (
    GatedCrossAttentionBlock,
    XAttnDecoderLayer,
    visual_context,
)
from mmf_imgtune.modules.fusion.projector import build_projector
from mmf_imgtune.modules.fusion.region_encoder import RegionEncoder, region_mask
from mmf_imgtune.modules.fusion.resampler import PerceiverResampler

__all__ = [
    "GatedCrossAttentionBlock",
    "PerceiverResampler",
    "RegionEncoder",
    "XAttnDecoderLayer",
    "build_projector",
    "region_mask",
    "visual_context",
]
