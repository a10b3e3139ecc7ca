"""Inputs a model cannot use fail naming the config key to change, in every model: features
of the wrong width, object ids outside the class table, text past the context length."""

import pytest
import torch
from baseline_helpers import build as build_baseline
from baseline_helpers import synthetic_batch
from imgtune_helpers import FEATURE_DIM, make_batch
from imgtune_helpers import build as build_imgtune

from mmf_imgtune.common.sample import SampleList

REGION_BASELINES = ["unimodal_image", "late_fusion", "concat_bert", "mmbt", "visual_bert", "butd"]
BERT_BASELINES = ["unimodal_text", "late_fusion", "concat_bert", "mmbt", "visual_bert"]
TEXT_KEYS = ("input_ids", "input_mask", "segment_ids", "labels", "prompt_ids", "prompt_mask")


def _wider(batch, extra: int = 3):
    features = batch["image_feature_0"]
    batch["image_feature_0"] = torch.randn(*features.shape[:2], features.size(-1) + extra)
    return batch


def _longer(batch, times: int):
    """The batch with every text field repeated: a sequence ``times`` as long."""
    return SampleList({k: v.repeat(1, times) if k in TEXT_KEYS else v for k, v in batch.items()})


@pytest.mark.parametrize("name", REGION_BASELINES)
def test_baseline_feature_width_mismatch_names_the_key(name):
    with pytest.raises(ValueError, match=r"width 15 but image_encoder\.feature_dim is 12"):
        build_baseline(name)(_wider(synthetic_batch()))


@pytest.mark.parametrize("fusion", ["prefix", "cross_attention"])
def test_imgtune_feature_width_mismatch_names_the_key(fusion):
    model = build_imgtune(fusion=fusion)
    message = rf"width {FEATURE_DIM + 3} but model_config\.imgtune\.region_encoder\.feature_dim"
    with pytest.raises(ValueError, match=message):
        model(_wider(make_batch()))
    with pytest.raises(ValueError, match=message):
        model.eval().generate(_wider(make_batch()))


def test_imgtune_object_ids_outside_the_class_table():
    model = build_imgtune(**{"region_encoder.num_object_classes": 3})
    batch = make_batch()
    model(batch)  # ids 0..2 are fine
    batch.image_info_0["objects"][0, 0] = 1599  # a Visual Genome id with an 18-class table
    with pytest.raises(ValueError, match=r"class id 1599 .*num_object_classes=3"):
        model(batch)


@pytest.mark.parametrize("lm", ["llama", "gpt2"])
def test_imgtune_text_past_the_context_fails_instead_of_extrapolating(lm):
    model = build_imgtune(lm, fusion="both")
    limit = model._hf_model().config.max_position_embeddings
    batch = make_batch()
    times = limit // int(batch["input_mask"].sum(1).min()) + 1  # padding does not count
    with pytest.raises(ValueError, match=rf"max_position_embeddings={limit}.*max_seq_length"):
        model(_longer(batch, times))
    # Generation counts the tokens it will add: a prompt that fits can still overflow.
    real = batch["prompt_mask"].sum(1) + batch["image_info_0"]["num_boxes"]  # text + boxes
    prompt_tokens = int(real.max())
    model.eval()
    model.generate(batch, max_new_tokens=limit - prompt_tokens)
    with pytest.raises(ValueError, match=r"\+ \d+ generated \(generation\.max_new_tokens\)"):
        model.generate(batch, max_new_tokens=limit - prompt_tokens + 1)


def test_imgtune_padding_does_not_count_toward_the_context():
    model = build_imgtune(fusion="prefix")
    limit = model._hf_model().config.max_position_embeddings
    batch = make_batch()
    width = batch["input_ids"].size(1)
    padded = {}
    for key in TEXT_KEYS:
        if key in batch:
            pad = torch.zeros(batch[key].size(0), limit, dtype=batch[key].dtype)
            if key == "labels":
                pad -= 100
            # Right padding for the training inputs, left padding for the prompts.
            parts = [pad, batch[key]] if key.startswith("prompt") else [batch[key], pad]
            padded[key] = torch.cat(parts, dim=1)
    longer = SampleList({**batch, **padded})
    assert longer["input_ids"].size(1) == width + limit
    torch.testing.assert_close(
        model(longer)["losses"]["train/synthetic/lm_cross_entropy"],
        model(batch)["losses"]["train/synthetic/lm_cross_entropy"],
    )


@pytest.mark.parametrize("name", BERT_BASELINES)
def test_bert_baselines_name_max_seq_length_when_text_is_too_long(name):
    model = build_baseline(name)
    limit = model.config.bert.config.max_position_embeddings
    batch = synthetic_batch()
    times = limit // batch["input_ids"].size(1) + 1
    with pytest.raises(ValueError, match=rf"max_position_embeddings={limit}; lower .*max_seq"):
        model(_longer(batch, times))


@pytest.mark.parametrize(
    ("fusion", "resampler"),
    [("prefix", False), ("cross_attention", False), ("both", True)],
)
def test_imgtune_image_without_regions_stays_finite(fusion, resampler):
    """A detector may find nothing (a blank image): all-masked attention must not give NaN."""
    model = build_imgtune(fusion=fusion, **{"region_encoder.resampler.enabled": resampler})
    batch = make_batch()
    batch.image_info_0["num_boxes"][0] = 0
    output = model(batch)
    assert torch.isfinite(output["scores"]).all()
    assert all(torch.isfinite(loss) for loss in output["losses"].values())


# butd needs caption batches: its zero-region case is in tests/models/baselines/test_butd.py
@pytest.mark.parametrize("name", [n for n in REGION_BASELINES if n != "butd"])
def test_baseline_image_without_regions_stays_finite(name):
    batch = synthetic_batch()
    batch.image_info_0["num_boxes"][0] = 0
    assert torch.isfinite(build_baseline(name)(batch)["scores"]).all()
