"""The classification baselines: shapes, losses, gradients, masking and modality isolation."""

import pytest
import torch
from baseline_helpers import BATCH, TINY_BERT, build, synthetic_batch

CLASSIFIERS = [
    "unimodal_text",
    "unimodal_image",
    "late_fusion",
    "concat_bert",
    "mmbt",
    "visual_bert",
]
REGION_MODELS = ["unimodal_image", "late_fusion", "concat_bert", "mmbt", "visual_bert"]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_forward_backward_binary(name, batch):
    model = build(name)
    output = model(batch)
    assert output["scores"].shape == (BATCH, 2)
    loss = output["losses"]["train/synthetic/cross_entropy"]
    assert torch.isfinite(loss)
    loss.backward()
    head = model.classifier if hasattr(model, "classifier") else model.text_classifier
    assert head[-1].weight.grad is not None and head[-1].weight.grad.abs().sum() > 0
    with_grad = [n for n, p in model.named_parameters() if p.grad is not None]
    assert len(with_grad) > 0.5 * len(list(model.parameters())), name


@pytest.mark.parametrize("name", ["concat_bert", "mmbt", "visual_bert"])
def test_vqa_soft_targets_with_logit_bce(name):
    batch = synthetic_batch(num_labels=6, soft=True)
    model = build(name, num_labels=6, losses=["logit_bce"])
    output = model(batch)
    assert output["scores"].shape == (BATCH, 6)
    output["losses"]["train/synthetic/logit_bce"].backward()


@pytest.mark.parametrize("name", REGION_MODELS)
def test_padded_regions_change_nothing(name, batch):
    model = build(name).eval()
    with torch.no_grad():
        before = model(batch)["scores"]
        noisy = synthetic_batch()
        num_boxes = noisy.image_info_0.num_boxes
        padding = torch.arange(noisy.image_feature_0.size(1)).view(1, -1) >= num_boxes.view(-1, 1)
        noisy.image_feature_0[padding] = 100.0
        noisy.image_info_0.boxes_5d[padding] = 7.0
        after = model(noisy)["scores"]
    torch.testing.assert_close(before, after, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", REGION_MODELS)
def test_real_regions_matter(name, batch):
    model = build(name).eval()
    with torch.no_grad():
        before = model(batch)["scores"]
        batch.image_feature_0[:, 0] += 3.0
        after = model(batch)["scores"]
    assert not torch.allclose(before, after)


def test_unimodal_text_ignores_image_and_unimodal_image_ignores_text(batch):
    text_model, image_model = build("unimodal_text").eval(), build("unimodal_image").eval()
    changed = synthetic_batch()
    changed.image_feature_0 = torch.randn_like(changed.image_feature_0)
    changed.input_ids = torch.randint(5, TINY_BERT["vocab_size"], changed.input_ids.shape)
    with torch.no_grad():
        torch.testing.assert_close(
            text_model(batch)["scores"],
            text_model({**batch, "image_feature_0": changed.image_feature_0})["scores"],
        )
        torch.testing.assert_close(
            image_model(batch)["scores"],
            image_model({**batch, "input_ids": changed.input_ids})["scores"],
        )


@pytest.mark.parametrize("name", ["unimodal_image", "mmbt"])
def test_grid_variant_reads_the_image(name, batch):
    model = build(name, image_encoder={"type": "grid", "grid_size": 2}).eval()
    with torch.no_grad():
        before = model(batch)["scores"]
        batch.image = torch.randn_like(batch.image)
        after = model(batch)["scores"]
    assert before.shape == (BATCH, 2) and not torch.allclose(before, after)


def test_grid_weights_load_from_a_local_file(tmp_path, batch):
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    model = build(
        "unimodal_image", image_encoder={"type": "grid", "weights": str(tmp_path / "r18.pt")}
    )
    torch.testing.assert_close(model.image.trunk[0].weight, reference.conv1.weight)


def test_missing_boxes_and_missing_image_fail_with_the_fix(batch):
    del batch["image_info_0"]["boxes_5d"]
    with pytest.raises(KeyError, match="use_boxes=false"):
        build("mmbt")(batch)
    del batch["image"]
    with pytest.raises(KeyError, match="image_encoder.type=region"):
        build("unimodal_image", image_encoder={"type": "grid"})(batch)


def test_feature_width_mismatch_names_the_key(batch):
    with pytest.raises(ValueError, match="image_encoder.feature_dim"):
        build("concat_bert", image_encoder={"feature_dim": 99})(batch)


def test_bert_model_name_loads_a_local_folder(tmp_path, batch):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(**TINY_BERT)).save_pretrained(tmp_path / "bert")
    model = build("unimodal_text", bert={"config": None}, bert_model_name=str(tmp_path / "bert"))
    assert model.text.bert.config.hidden_size == TINY_BERT["hidden_size"]
    assert model(batch)["scores"].shape == (BATCH, 2)


def test_no_bert_source_is_an_error():
    with pytest.raises(KeyError, match="bert_model_name"):
        build("unimodal_text", bert={"config": None}, bert_model_name=None)
