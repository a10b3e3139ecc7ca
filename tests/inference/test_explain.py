"""Explanation PNGs: valid image, per-region weights sum to 1 and ignore padded boxes."""

import pytest
import torch
from imgtune_helpers import build, make_batch
from PIL import Image

from mmf_imgtune.inference.explain import explain_example, region_weights, select_sample


def _batch_with_boxes(size=4, boxes=5):
    batch = make_batch(size=size, boxes=boxes, with_answer=False)
    batch.image_info_0.bbox = batch.image_info_0.boxes_5d[..., :4] * 80  # pixels of an 80x80
    batch.image_info_0.image_width = [80] * size
    batch.image_info_0.image_height = [80] * size
    return batch


@pytest.mark.parametrize(
    "fusion,resampler", [("prefix", False), ("cross_attention", False), ("both", True)]
)
def test_png_and_weights(tmp_path, fusion, resampler):
    model = build(
        fusion=fusion,
        **{
            "region_encoder.resampler.enabled": resampler,
            "region_encoder.resampler.num_latents": 3,
        },
    )
    batch = _batch_with_boxes()
    image_path = tmp_path / "scene.png"
    Image.new("RGB", (160, 160), (120, 120, 120)).save(image_path)  # 2x the box frame
    index = int(torch.argmin(batch.image_info_0.num_boxes))  # one with padded boxes
    result = explain_example(model, batch, index, str(image_path), str(tmp_path / "out.png"))
    count = int(batch.image_info_0.num_boxes[index])
    assert len(result["weights"]) == len(result["boxes"]) == count
    assert sum(result["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert all(w >= 0 for w in result["weights"])
    assert result["boxes"][0][2] == pytest.approx(2 * float(batch.image_info_0.bbox[index, 0, 2]))
    with Image.open(tmp_path / "out.png") as png:
        png.verify()
        assert png.format == "PNG" and png.size[0] > 100
    assert isinstance(result["answer"], str) and result["question"]


def test_padded_boxes_get_zero_and_change_nothing():
    model = build(fusion="both").eval()
    batch = _batch_with_boxes()
    batch.image_info_0.num_boxes = torch.tensor([2, 5, 3, 1])
    sample = select_sample(batch, 0)
    weights = region_weights(model, sample, "red")
    assert weights.shape == (5,) and torch.all(weights[2:] == 0)
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-5)
    sample.image_feature_0[0, 2:] = 100.0  # padding content must not matter
    assert torch.allclose(region_weights(model, sample, "red"), weights, atol=1e-6)


def test_select_sample_keeps_batch_of_one():
    batch = _batch_with_boxes()
    sample = select_sample(batch, 2)
    assert sample.prompt_ids.shape[0] == 1 and sample.image_info_0.bbox.shape == (1, 5, 4)
    assert torch.equal(sample.prompt_ids[0], batch.prompt_ids[2])
    assert sample.image_info_0.image_width == [80] and sample.dataset_name == "synthetic"
