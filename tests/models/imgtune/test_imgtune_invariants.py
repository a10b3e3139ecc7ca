"""Invariants: zero gates give the bare LM, padding never matters, prefix never in the loss,
generation returns strings, state_dict round-trips."""

import pytest
import torch
from imgtune_helpers import build, make_batch, train_steps

from mmf_imgtune.models.imgtune import ImgTune
from mmf_imgtune.models.imgtune.heads import lm_loss
from mmf_imgtune.models.imgtune.lm import build_lm


@pytest.mark.parametrize("lm", ["llama", "gpt2", "qwen2"])
def test_zero_gates_give_bare_lm_logits(lm, batch):
    model = build(lm, fusion="cross_attention").eval()
    torch.manual_seed(0)  # build() seeds 0 and builds the LM first: same weights
    bare = build_lm(model.config.lm).eval()
    with torch.no_grad():
        ours = model(batch)["scores"]
        reference = bare(input_ids=batch.input_ids, attention_mask=batch.input_mask).logits
    valid = batch.input_mask.bool()
    assert torch.allclose(ours[valid], reference[valid], atol=1e-5, rtol=0)
    # After training the gates open and the visual tokens do change the logits.
    train_steps(model, batch, steps=3)
    model.eval()
    with torch.no_grad():
        assert not torch.allclose(model(batch)["scores"][valid], reference[valid], atol=1e-3)


@pytest.mark.parametrize("fusion,resampler", [("prefix", False), ("both", False), ("both", True)])
def test_padded_boxes_change_nothing(fusion, resampler, batch):
    model = build(
        fusion=fusion,
        **{"region_encoder.resampler.enabled": resampler, "region_encoder.num_object_classes": 3},
    )
    train_steps(model, batch, steps=2)  # open the gates
    model.eval()
    changed = make_batch()
    info = changed.image_info_0
    padded = torch.arange(5).unsqueeze(0) >= info.num_boxes.unsqueeze(1)
    assert padded.any()
    changed.image_feature_0[padded] = 100.0
    info.boxes_5d[padded] = 0.9
    info.objects[padded] = 2
    with torch.no_grad():
        a, b = model(batch), model(changed)
    assert torch.equal(a["scores"], b["scores"])
    assert a["generated_text"] == b["generated_text"]


def test_prefix_and_padding_never_count_in_loss(batch):
    model = build(fusion="prefix").eval()
    with torch.no_grad():
        output = model(batch)
    scores = output["scores"]
    assert scores.shape[:2] == batch.input_ids.shape  # the prefix is sliced off
    manual = lm_loss(scores, batch.labels)
    assert torch.allclose(output["losses"]["train/synthetic/lm_cross_entropy"], manual)
    # Only answer tokens and EOS carry labels.
    answer = (batch.labels != -100).sum(1)
    assert answer.tolist() == [2] * 8
    # Changing padded text tokens leaves the loss unchanged.
    changed = make_batch()
    changed.input_ids[changed.input_mask == 0] = 5
    with torch.no_grad():
        again = model(changed)["losses"]["train/synthetic/lm_cross_entropy"]
    assert torch.allclose(again, manual)


def test_greedy_and_beam_generation(batch):
    model = build(fusion="both")
    train_steps(model, batch, steps=40)
    model.eval()
    greedy = model.generate(batch, num_beams=1)
    beam = model.generate(batch, num_beams=3, max_new_tokens=3)
    assert greedy == [answers[0] for answers in batch.answers]
    assert beam == greedy
    rows = model.format_for_prediction(batch, model(batch))
    assert rows[0] == {"id": 0, "answer": greedy[0]} and len(rows) == 8
    untrained = build(fusion="prefix").eval()
    texts = untrained.generate(batch, num_beams=2)
    assert len(texts) == 8 and all(isinstance(t, str) for t in texts)


@pytest.mark.parametrize(
    "overrides", [{"fusion": "both"}, {"fusion": "cross_attention", "lm_training": "lora"}]
)
def test_state_dict_round_trip(overrides, batch, tmp_path):
    model = build(**overrides)
    train_steps(model, batch, steps=3)
    model.eval()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    torch.manual_seed(123)  # different initial weights, replaced by the load
    fresh = ImgTune(model.config).init_from_config().eval()
    fresh.load_state_dict(torch.load(tmp_path / "model.pt"))
    with torch.no_grad():
        assert torch.equal(model(batch)["scores"], fresh(batch)["scores"])
    assert model.generate(batch) == fresh.generate(batch)
