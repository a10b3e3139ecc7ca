"""Decoding does only the work it needs and still picks HF ``generate``'s tokens.

- next-token logits for the last position only (``logits_to_keep=1``);
- beam search runs each prompt once, then copies its cache to the beams;
- classifier and retrieval tasks never run the LM head (the (L, V) matmul over the vocab).
"""

import pytest
import torch
from imgtune_helpers import build, make_batch

from mmf_imgtune.models.imgtune import lm as lm_lib
from mmf_imgtune.models.imgtune.generation import beam_decode, decode_tokens, greedy_decode
from mmf_imgtune.utils.testing import NoEosTokenizer


def _open_gates(model):
    for name, param in model.named_parameters():
        if name.endswith("_gate"):
            param.data.fill_(0.5)  # let the image in at every step
    return model


def _hf_tokens(model, batch, new_tokens, num_beams, eos_id):
    """transformers' own ``generate(inputs_embeds=...)`` on the same LLM and visual prefix."""
    visual = model.encode_regions(batch)
    embeds = torch.cat([visual["tokens"], model.embed_text(batch["prompt_ids"])], dim=1)
    mask = torch.cat([visual["mask"].long(), batch["prompt_mask"].long()], dim=1)
    out = model.lm.generate(
        inputs_embeds=embeds,
        attention_mask=mask,
        max_new_tokens=new_tokens,
        min_new_tokens=0,
        do_sample=False,
        num_beams=num_beams,
        length_penalty=1.0,
        early_stopping=False,
        eos_token_id=eos_id,
        pad_token_id=eos_id if eos_id is not None else 0,
    )
    return out  # (B, <= new_tokens): only the new tokens for inputs_embeds


def _our_tokens(model, batch, new_tokens, num_beams, eos_id, calls=None):
    visual = model.encode_regions(batch)

    def step_fn(embeds, mask, cache):
        if calls is not None:
            calls.append(tuple(embeds.shape[:2]))
        repeat = embeds.size(0) // visual["tokens"].size(0)
        rows = {k: v.repeat_interleave(repeat, 0) for k, v in visual.items()}
        out, _ = model.run_lm(
            embeds, mask, rows, past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        assert out.logits.size(1) == 1  # logits of the last position only
        return out.logits[:, -1], lm_lib.output_cache(out)  # a Cache on transformers 4.x too

    prompt, mask = model.embed_text(batch["prompt_ids"]), batch["prompt_mask"]
    eos = -1 if eos_id is None else eos_id  # -1: no token is EOS, every row runs to the end
    if num_beams == 1:
        return greedy_decode(step_fn, model.embed_text, prompt, mask, new_tokens, eos)
    return beam_decode(step_fn, model.embed_text, prompt, mask, new_tokens, eos, num_beams)


@pytest.mark.parametrize("lm", ["llama", "gpt2"])
@pytest.mark.parametrize("num_beams", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_same_tokens_as_hf_generate(lm, num_beams, dtype):
    """In fp32 and in bf16 (weights and KV cache: how bf16 decoding runs)."""
    model = build(lm, fusion="prefix").eval().to(dtype)
    batch = make_batch(size=4, with_answer=False)  # padded boxes: masked prefix positions
    with torch.no_grad():
        ours = _our_tokens(model, batch, 6, num_beams, eos_id=None)
        theirs = _hf_tokens(model, batch, 6, num_beams, eos_id=None)
    assert ours.shape == theirs.shape == (4, 6)
    assert torch.equal(ours, theirs)


def test_greedy_stops_at_eos_like_hf_generate():
    model = build(fusion="prefix").eval()
    batch = make_batch(size=4, with_answer=False)
    eos = int(model.tokenizer.eos_token_id)
    with torch.no_grad():
        model._hf_model().lm_head.weight[eos] += 0.3  # EOS comes within a few steps
        ours = _our_tokens(model, batch, 8, 1, eos_id=eos)
        theirs = _hf_tokens(model, batch, 8, 1, eos_id=eos)
    assert (ours == eos).any()
    width = theirs.size(1)
    assert torch.equal(ours[:, :width], theirs)  # both fill finished rows with EOS


@pytest.mark.parametrize("fusion", ["prefix", "both"])
def test_beam_search_runs_each_prompt_once(fusion):
    model = _open_gates(build(fusion=fusion).eval())
    batch = make_batch(size=2, with_answer=False)
    calls: list = []
    with torch.no_grad():
        tokens = _our_tokens(model, batch, 5, 3, eos_id=None, calls=calls)
    prompt = batch["prompt_ids"].size(1)
    assert calls[0] == (2, prompt)  # B prompts, not B * beams
    assert calls[1:] == [(6, 1)] * 4  # then one new token per beam
    assert tokens.shape == (2, 5)


@pytest.mark.parametrize("task", ["vqa_classification", "binary", "retrieval"])
def test_heads_without_lm_logits_never_run_the_lm_head(task):
    model = build(task=task, num_answers=2)
    calls = []
    head = model._hf_model().get_output_embeddings()
    handle = head.register_forward_hook(lambda *args: calls.append(1))
    try:
        output = model(make_batch(size=2))
    finally:
        handle.remove()
    assert calls == [] and torch.isfinite(sum(output["losses"].values()))


@pytest.mark.parametrize("fusion", ["prefix", "both"])
def test_training_computes_lm_logits_for_scored_text_positions_only(fusion):
    model = _open_gates(build(fusion=fusion))
    batch = make_batch(size=2)
    rows = []
    head = model._hf_model().get_output_embeddings()
    handle = head.register_forward_hook(lambda m, i, out: rows.append(out.shape[:2]))
    try:
        output = model(batch)
    finally:
        handle.remove()
    size, text = batch["input_ids"].shape
    # No LM-head rows for the visual prefix, the prompt or padding: only positions whose next
    # token is scored in some row.
    scored = (batch["labels"][:, 1:] != -100).any(0).nonzero().squeeze(1)
    assert rows == [(size, len(scored))] and 0 < len(scored) < text
    # The same loss as full logits sliced to the text positions.
    visual = model.encode_regions(batch)
    out, prefix = model.run_lm(model.embed_text(batch["input_ids"]), batch["input_mask"], visual)
    assert out.logits.size(1) == prefix + text
    full = out.logits[:, prefix:]
    torch.testing.assert_close(output["scores"], full[:, scored])
    loss = next(iter(output["losses"].values()))
    expected = torch.nn.functional.cross_entropy(
        full[:, :-1].reshape(-1, full.size(-1)), batch["labels"][:, 1:].reshape(-1)
    )
    torch.testing.assert_close(loss, expected)


def _full_batch(size: int = 4):
    """Every box real and every prompt the same length: no position is masked."""
    batch = make_batch(size=size, with_answer=False)
    batch["image_info_0"]["num_boxes"] = torch.full((size,), batch["image_feature_0"].size(1))
    batch["prompt_mask"] = torch.ones_like(batch["prompt_mask"])
    return batch


def _generate_recording_padded(model, batch, **kwargs):
    """``generate``'s texts and the ``padded`` flag of each of its LLM passes."""
    seen, run_lm = [], model.run_lm

    def recording(*args, **step_kwargs):
        seen.append(step_kwargs.get("padded", True))
        return run_lm(*args, **step_kwargs)

    model.run_lm = recording
    try:
        with torch.no_grad():
            return model.generate(batch, **kwargs), seen
    finally:
        del model.run_lm


@pytest.mark.parametrize("lm", ["llama", "gpt2"])
@pytest.mark.parametrize("num_beams", [1, 3])
def test_unpadded_batch_decodes_without_a_mask_and_picks_the_same_tokens(lm, num_beams):
    """An all-ones mask is dropped once per call, as HF ``generate`` does (the LLM's mask code
    would otherwise check it at every step); the tokens are those of the masked path."""
    model = build(lm, fusion="prefix").eval()
    model.tokenizer = NoEosTokenizer(model.tokenizer)
    batch = _full_batch()
    unmasked, seen = _generate_recording_padded(model, batch, max_new_tokens=6, num_beams=num_beams)
    with torch.no_grad():
        masked = _our_tokens(model, batch, 6, num_beams, eos_id=None)  # mask and positions
        theirs = _hf_tokens(model, batch, 6, num_beams, eos_id=None)
    assert seen and not any(seen)  # every step ran without a mask
    assert torch.equal(masked, theirs)
    assert unmasked == decode_tokens(model.tokenizer, masked, -1)


def test_padded_batch_keeps_its_mask():
    model = build(fusion="prefix").eval()
    batch = make_batch(size=4, with_answer=False)  # random box counts: masked visual slots
    _, seen = _generate_recording_padded(model, batch, max_new_tokens=3)
    assert seen and all(seen)


@pytest.mark.parametrize(
    ("lm", "fusion", "extra"),
    [("llama", "prefix", {}), ("llama", "both", {}), ("gpt2", "cross_attention", {}),
     ("qwen2", "prefix", {"lm_training": "lora"})],
)  # fmt: skip
def test_training_projects_only_scored_positions_and_keeps_the_loss(lm, fusion, extra):
    """Training computes LM-head logits only where a next token is scored (the answers), so
    its loss must equal the one over every text position's logits (eval mode computes all)."""
    model = _open_gates(build(lm, fusion=fusion, dropout=0.0, **extra))
    batch = make_batch(size=4)
    assert (batch["labels"] == -100).float().mean() > 0.3, "needs unscored positions to skip"
    model.config.generate_in_eval = False
    trained = model.train()(batch)
    with torch.no_grad():
        full = model.eval()(batch)
    (name,) = trained["losses"]  # the same key in both modes
    assert trained["scores"].size(1) < full["scores"].size(1) == batch["input_ids"].size(1)
    expected = torch.nn.functional.cross_entropy(
        full["scores"][:, :-1].flatten(0, 1), batch["labels"][:, 1:].flatten()
    )
    torch.testing.assert_close(trained["losses"][name], expected, rtol=1e-5, atol=1e-6)
