"""Fusion layers: masking of padded boxes, zero-gate identity, resampler shapes."""

import pytest
import torch
from torch import nn

from mmf_imgtune.modules.fusion import (
    GatedCrossAttentionBlock,
    PerceiverResampler,
    RegionEncoder,
    XAttnDecoderLayer,
    build_projector,
    region_mask,
    visual_context,
)


def _inputs(batch=3, boxes=6, dim=8):
    features = torch.randn(batch, boxes, dim)
    num_boxes = torch.tensor([2, 6, 0])[:batch]
    boxes_5d = torch.rand(batch, boxes, 5)
    objects = torch.randint(0, 4, (batch, boxes))
    return features, num_boxes, boxes_5d, objects


def test_region_mask():
    assert region_mask(torch.tensor([0, 2]), 3).tolist() == [[False] * 3, [True, True, False]]


@pytest.mark.parametrize("resampler", [None, {"num_latents": 4, "depth": 2, "num_heads": 2}])
@pytest.mark.parametrize("projector", ["linear", "mlp"])
def test_padded_boxes_change_nothing(resampler, projector):
    encoder = RegionEncoder(8, 16, projector=projector, num_object_classes=4, resampler=resampler)
    features, num_boxes, boxes_5d, objects = _inputs()
    before = encoder(features, num_boxes, boxes_5d, objects)
    padded = ~region_mask(num_boxes, features.size(1))
    features2, boxes2, objects2 = features.clone(), boxes_5d.clone(), objects.clone()
    features2[padded] = 1e3 * torch.randn(int(padded.sum()), 8)
    boxes2[padded] = torch.rand(int(padded.sum()), 5)
    objects2[padded] = 3
    after = encoder(features2, num_boxes, boxes2, objects2)
    assert torch.equal(before["tokens"], after["tokens"])
    assert torch.isfinite(after["tokens"]).all()  # a scene with zero boxes stays finite
    if resampler:
        assert before["tokens"].shape == (3, 4, 16) and before["mask"].all()
        attention = before["region_attention"]
        assert attention.shape == (3, 4, 6)
        assert torch.equal(
            attention[padded.unsqueeze(1).expand_as(attention)], torch.zeros(int(padded.sum()) * 4)
        )
    else:
        assert torch.equal(before["mask"], ~padded)
        assert torch.equal(after["tokens"][padded], torch.zeros(int(padded.sum()), 16))


def test_geometry_required_and_projector_names():
    encoder = RegionEncoder(8, 16)
    features, num_boxes, _, _ = _inputs()
    with pytest.raises(KeyError, match="boxes_5d"):
        encoder(features, num_boxes, None)
    assert RegionEncoder(8, 16, use_box_geometry=False)(features, num_boxes)["tokens"].shape == (
        3,
        6,
        16,
    )
    with pytest.raises(ValueError, match="projector"):
        build_projector("conv", 8, 16)


def test_resampler_shapes():
    resampler = PerceiverResampler(16, num_latents=3, depth=1, num_heads=4)
    latents, attention = resampler(
        torch.randn(2, 5, 16), torch.tensor([[1, 1, 0, 0, 0]] * 2).bool()
    )
    assert latents.shape == (2, 3, 16) and attention.shape == (2, 3, 5)
    assert (attention[:, :, 2:] == 0).all() and (attention[:, :, :2] > 0).all()


class _Layer(nn.Module):
    """Stands in for an HF decoder layer: positional hidden states plus keyword arguments."""

    def forward(self, hidden_states, scale=1.0, **kwargs):
        return hidden_states * scale


def test_zero_gates_are_identity_and_context_clears():
    block = GatedCrossAttentionBlock(16, 4)
    hidden, visual = torch.randn(2, 5, 16), torch.randn(2, 3, 16)
    out, weights = block(hidden, visual, torch.ones(2, 3, dtype=torch.bool))
    assert torch.equal(out, hidden) and weights.shape == (2, 5, 3)
    wrapper = XAttnDecoderLayer(_Layer(), block)
    with torch.no_grad():
        block.attn_gate.fill_(1.0)
    record: list = []
    with visual_context([wrapper], visual, torch.ones(2, 3), record):
        by_position = wrapper(hidden, scale=2.0)
        by_name = wrapper(hidden_states=hidden, scale=2.0)
    assert torch.equal(by_position, by_name) and not torch.equal(by_position, hidden * 2)
    assert len(record) == 2 and wrapper._visual is None
    assert torch.equal(wrapper(hidden, scale=2.0), hidden * 2)  # outside the context: bare layer
    with pytest.raises(ValueError, match="visual rows"):
        with visual_context([wrapper], visual[:1], torch.ones(1, 3)):
            wrapper(hidden)
    assert wrapper._visual is None  # cleared even after an error


def test_all_padded_visual_gives_zero_attention():
    block = GatedCrossAttentionBlock(16, 4)
    with torch.no_grad():
        block.attn_gate.fill_(1.0)
    hidden = torch.randn(1, 4, 16)
    out, weights = block(hidden, torch.randn(1, 3, 16), torch.zeros(1, 3, dtype=torch.bool))
    assert torch.isfinite(out).all() and (weights == 0).all()
