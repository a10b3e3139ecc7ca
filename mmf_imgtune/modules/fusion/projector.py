"""Projectors from region-feature width to the LLM's hidden width (registry kind ``projector``).

``linear`` is LLaVA's first projector (Liu et al. 2023, arXiv 2304.08485); ``mlp`` is
LLaVA-1.5's two-layer GELU MLP (Liu et al. 2023, arXiv 2310.03744). Both return plain torch
modules, so checkpoints keep their parameter names (``projector.weight``, ``projector.0.weight``).
"""

from __future__ import annotations

from torch import nn

from mmf_imgtune.registry import RegistryError, registry


@registry.register_projector("linear")
def linear(in_dim: int, out_dim: int, hidden_dim: int | None = None) -> nn.Module:
    """One Linear (``hidden_dim`` is not used)."""
    return nn.Linear(in_dim, out_dim)


@registry.register_projector("mlp")
def mlp(in_dim: int, out_dim: int, hidden_dim: int | None = None) -> nn.Module:
    """Linear -> GELU -> Linear; ``hidden_dim`` None uses ``out_dim``."""
    hidden = hidden_dim or out_dim
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))


def build_projector(
    kind: str, in_dim: int, out_dim: int, hidden_dim: int | None = None
) -> nn.Module:
    """Build a registered projector.

    Args:
        kind: ``linear``, ``mlp`` (Linear -> GELU -> Linear) or a plugin's registered name.
        in_dim: input width (region feature width + 5 box numbers when geometry is used).
        out_dim: output width (the LLM's ``config.hidden_size``).
        hidden_dim: the MLP's inner width; ``None`` uses ``out_dim``.

    Returns:
        a module mapping ``(B, N, in_dim)`` to ``(B, N, out_dim)``.
    """
    try:
        return registry.build("projector", kind, in_dim, out_dim, hidden_dim=hidden_dim)
    except RegistryError as error:
        raise ValueError(
            f"model_config.imgtune.region_encoder.projector is '{kind}': {error}"
        ) from None
