"""Attention kernels: sdpa by default, eager only for the pass that needs attention weights."""

import pytest
import torch
from imgtune_helpers import build, make_batch

from mmf_imgtune.inference.explain import region_weights, select_sample
from mmf_imgtune.models.imgtune import lm as lm_lib


def _kernel(model) -> str:
    return model._hf_model().config._attn_implementation


@pytest.mark.parametrize("lm", ["llama", "gpt2"])
def test_sdpa_by_default_and_same_outputs_as_eager(lm):
    batch = make_batch(size=3)
    sdpa = build(lm).eval()
    eager = build(lm, **{"lm.attn_implementation": "eager"}).eval()
    assert _kernel(sdpa) == "sdpa" and _kernel(eager) == "eager"
    eager.load_state_dict(sdpa.state_dict())
    with torch.no_grad():
        fast, slow = sdpa(batch)["scores"], eager(batch)["scores"]
    assert torch.allclose(fast, slow, atol=1e-5), float((fast - slow).abs().max())


def test_explanation_switches_to_eager_for_its_pass_only():
    model = build(fusion="prefix").eval()
    eager = build(fusion="prefix", **{"lm.attn_implementation": "eager"}).eval()
    eager.load_state_dict(model.state_dict())
    sample = select_sample(make_batch(size=2, with_answer=False), 0)
    weights = region_weights(model, sample, "red")
    assert _kernel(model) == "sdpa"  # restored after the explanation
    assert torch.allclose(weights, region_weights(eager, sample, "red"), atol=1e-6)
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-5)


def test_attention_kernel_restores_after_an_error():
    model = build()
    hf_model = model._hf_model()
    with pytest.raises(KeyError), lm_lib.attention_kernel(hf_model, need_weights=True) as kernel:
        assert kernel == "eager" and hf_model.config._attn_implementation == "eager"
        raise KeyError("inside")
    assert hf_model.config._attn_implementation == "sdpa"
    with lm_lib.attention_kernel(hf_model, need_weights=False) as kernel:
        assert kernel == "sdpa"
