"""Which regions did the last answer of a chat look at? (``explain.py`` for dialogues.)

The whole conversation is re-read teacher-forced with attention recorded at the positions
that predict the last answer's tokens; the weights on the visual tokens (spliced at the
``<image>`` place) are averaged over layers and heads (prefix fusion: eager self-attention;
cross-attention: the gated blocks' weights), mapped to regions through a resampler, and drawn
by ``explain.plot_explanation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mmf_imgtune.inference.explain import (
    mean_self_attention,
    normalise_weights,
    plot_explanation,
)


@torch.no_grad()
def last_answer_weights(session: Any) -> torch.Tensor:
    """(N,) share of the last answer's attention on each region (0 on padded boxes)."""
    model, visual = session.model, session.visual
    if visual is None or not session.messages or session.messages[-1]["role"] != "assistant":
        raise ValueError("no answer about an image yet: set an image and ask a question first")
    encoded = session.renderer.encode(session.messages)
    last = max(encoded.turns)
    answer = [i for i, t in enumerate(encoded.turns) if t == last]
    queries = torch.tensor([i - 1 for i in answer])  # the positions predicting the answer
    device = visual["tokens"].device
    ids = torch.tensor([encoded.ids], device=device)
    mask = torch.ones_like(ids)
    position = torch.tensor([encoded.image_position or 0], device=device)
    prefix = session.visual_length > 0
    record: list = []
    out, _ = model.run_lm(
        model.embed_text(ids), mask, visual, record, attentions=prefix, image_position=position
    )
    parts = []
    if prefix:
        length = session.visual_length
        # Full positions: text index i sits at i, or i + P past the image.
        full = queries + length * (queries >= int(position)).long()
        start = int(position)  # the visual tokens are contiguous from the image place
        attention = mean_self_attention(out)  # (S, S)
        parts.append(attention[full][:, start : start + length].mean(0))  # (K,)
    if record:
        blocks = torch.stack([w[0].float() for w in record])  # (blocks, T, K)
        parts.append(blocks.mean(0)[queries].mean(0))
    vmask = visual["mask"][0]
    over_tokens = torch.stack([normalise_weights(p, vmask) for p in parts]).mean(0)  # (K,)
    if "region_attention" in visual:  # resampler: latents -> regions
        over_tokens = over_tokens @ visual["region_attention"][0].float()
    return normalise_weights(over_tokens, visual["region_mask"][0])


def draw_last_answer(session: Any, batch: Any, image: np.ndarray, out_png: str) -> dict:
    """Save the region-attention picture of the last answer; returns weights and boxes.

    Args:
        batch: the batch of one given to ``session.set_image`` (``image_info_0.bbox``).
        image: (H, W, 3) uint8 pixels of that image.
    """
    weights = last_answer_weights(session)
    info = batch["image_info_0"]
    count = int(info["num_boxes"][0])
    boxes = info["bbox"][0, :count].float().cpu().numpy()
    question = next(m for m in reversed(session.messages) if m["role"] == "user")["content"]
    answer = session.messages[-1]["content"]
    real = weights[:count].cpu().numpy()
    plot_explanation(image, boxes, real, question.replace("<image>", "").strip(), answer, out_png)
    return {"weights": real.tolist(), "boxes": boxes.tolist(), "path": out_png}
