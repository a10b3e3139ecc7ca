"""Projectors from region-feature width to the LLM's hidden width.

``linear`` is LLaVA's first projector (Liu et al. 2023, arXiv 2304.08485); ``mlp`` is
LLaVA-1.5's two-layer GELU MLP (Liu et al. 2023, arXiv 2310.03744).
"""

from __future__ import annotations

from torch import nn

PROJECTOR_TYPES = ("linear", "mlp")


def build_projector(
    kind: str, in_dim: int, out_dim: int, hidden_dim: int | None = None
) -> nn.Module:
    """Build a projector.

    Args:
        kind: ``linear`` or ``mlp`` (Linear -> GELU -> Linear).
        in_dim: input width (region feature width + 5 box numbers when geometry is used).
        out_dim: output width (the LLM's ``config.hidden_size``).
        hidden_dim: the MLP's inner width; ``None`` uses ``out_dim``.

    Returns:
        a module mapping ``(B, N, in_dim)`` to ``(B, N, out_dim)``.
    """
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "mlp":
        hidden = hidden_dim or out_dim
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))
    raise ValueError(
        f"model_config.imgtune.region_encoder.projector is '{kind}'; use one of {PROJECTOR_TYPES}"
    )
