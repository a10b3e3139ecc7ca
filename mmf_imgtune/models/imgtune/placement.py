"""Visual tokens at the ``<image>`` place of the text rather than in front of it.

LLaVA (arXiv 2304.08485) splices the projected image features where the conversation says
``<image>`` (after a chat template's system text and user header, for example). The prefix
fusion of ``model.py`` prepends them; with an ``image_position`` per row these helpers insert
them inside the text instead, keeping every row the same length (P + T), so padding and the
position ids (counted from the attention mask) work unchanged.
"""

from __future__ import annotations

import torch


def _index(position: torch.Tensor, text: int, visual: int) -> torch.Tensor:
    """(B, P + T) indices into ``cat([text, visual], 1)`` giving the spliced order."""
    slots = torch.arange(text + visual, device=position.device).unsqueeze(0)  # (1, P + T)
    pos = position.view(-1, 1).clamp(0, text)  # (B, 1)
    before = slots < pos
    inside = (slots >= pos) & (slots < pos + visual)
    return torch.where(before, slots, torch.where(inside, text + slots - pos, slots - visual))


def place_visual(
    visual: torch.Tensor, text: torch.Tensor, position: torch.Tensor | None
) -> torch.Tensor:
    """Insert ``visual`` into ``text`` before text position ``position`` of each row.

    Args:
        visual: (B, P, ...) visual tokens (or their mask).
        text: (B, T, ...) text embeddings (or their mask).
        position: (B,) long, or None to prepend (the plain prefix).

    Returns:
        (B, P + T, ...) in the order text[:pos], visual, text[pos:].
    """
    if position is None:
        return torch.cat([visual, text], dim=1)
    joined = torch.cat([text, visual], dim=1)  # (B, T + P, ...)
    index = _index(position.to(joined.device), text.size(1), visual.size(1))  # (B, P + T)
    index = index.view(*index.shape, *([1] * (joined.dim() - 2))).expand(-1, -1, *joined.shape[2:])
    return joined.gather(1, index)


def text_positions(
    values: torch.Tensor, visual: int, position: torch.Tensor | None
) -> torch.Tensor:
    """The text positions of a spliced (B, P + T, ...) tensor (e.g. logits): (B, T, ...)."""
    if position is None or visual == 0:
        return values[:, visual:]
    text = values.size(1) - visual
    slots = torch.arange(text, device=values.device).unsqueeze(0)  # (1, T)
    index = slots + visual * (slots >= position.to(values.device).view(-1, 1)).long()  # (B, T)
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand(-1, -1, *values.shape[2:])
    return values.gather(1, index)
