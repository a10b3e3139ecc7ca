"""Cached generation (``generation.use_cache``) computes what the uncached loop computes."""

import pytest
import torch
from imgtune_helpers import build, make_batch


def _generate_recording_logits(model, batch, use_cache, num_beams):
    """Texts, and the next-token logits of every decoding step."""
    steps = []
    run_lm = model.run_lm

    def recording(*args, **kwargs):
        out, prefix = run_lm(*args, **kwargs)
        steps.append(out.logits[:, -1].clone())
        return out, prefix

    model.run_lm = recording
    model.config.generation.use_cache = use_cache
    try:
        texts = model.generate(batch, max_new_tokens=8, num_beams=num_beams)
    finally:
        del model.run_lm
    return texts, steps


@pytest.mark.parametrize(
    ("lm", "fusion", "extra"),
    [
        ("llama", "prefix", {}),
        ("llama", "cross_attention", {}),
        ("llama", "both", {"region_encoder.resampler.enabled": True}),
        ("gpt2", "both", {}),
        ("qwen2", "prefix", {"lm_training": "lora"}),
    ],
)
@pytest.mark.parametrize("num_beams", [1, 3])
def test_cache_gives_the_same_logits_and_text(lm, fusion, extra, num_beams):
    model = build(lm, fusion=fusion, **extra).eval()
    # Cross-attention gates start at zero; open them so the image matters at every step.
    for name, param in model.named_parameters():
        if name.endswith("_gate"):
            param.data.fill_(0.5)
    batch = make_batch(with_answer=False)
    cached, cached_steps = _generate_recording_logits(model, batch, True, num_beams)
    plain, plain_steps = _generate_recording_logits(model, batch, False, num_beams)
    assert cached == plain
    assert len(cached_steps) == len(plain_steps) >= 3
    for step, (a, b) in enumerate(zip(cached_steps, plain_steps)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=f"step {step}")
