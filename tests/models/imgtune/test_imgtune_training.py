"""ImgTune trains in every fusion mode and task; regimes train only what they should."""

import pytest
import torch
from imgtune_helpers import build, make_batch, train_steps


@pytest.mark.parametrize(
    "lm,fusion",
    [
        ("llama", "prefix"),
        ("llama", "cross_attention"),
        ("llama", "both"),
        ("gpt2", "prefix"),
        ("gpt2", "cross_attention"),
        ("qwen2", "both"),
    ],
)
def test_each_fusion_mode_learns(lm, fusion, batch):
    model = build(lm, fusion=fusion)
    history = train_steps(model, batch, steps=15)
    assert history[-1] < 0.5 * history[0], history
    keys = list(model(batch)["losses"])
    assert keys == ["train/synthetic/lm_cross_entropy"]


@pytest.mark.parametrize(
    "task,loss",
    [("vqa_classification", "logit_bce"), ("binary", "cross_entropy"), ("retrieval", "info_nce")],
)
def test_task_heads_learn(task, loss):
    batch = make_batch(with_answer=False, distinct=task == "retrieval")
    if task == "binary":
        batch.targets = batch.targets.argmax(dim=1)
    model = build(task=task, num_answers=2)
    output = model(batch)
    width = 8 if task == "retrieval" else 2
    assert output["scores"].shape == (8, width)
    history = train_steps(model, batch, steps=15)
    assert history[-1] < 0.6 * history[0], history
    assert list(model(batch)["losses"]) == [f"train/synthetic/{loss}"]


def test_classification_reads_prompt_only():
    """The answer in input_ids must not leak into a classifier (it reads prompt_ids)."""
    model = build(task="vqa_classification", num_answers=2).eval()
    with_answer, without = make_batch(with_answer=True), make_batch(with_answer=False)
    assert torch.equal(model(with_answer)["scores"], model(without)["scores"])


def _lm_weights(model):
    return {
        n: p.detach().clone()
        for n, p in model.named_parameters()
        if n.startswith("lm.") and "lora_" not in n and ".xattn." not in n
    }


@pytest.mark.parametrize("lm", ["llama", "gpt2"])
def test_lora_trains_only_adapters_and_fusion(lm, batch):
    model = build(lm, fusion="both", lm_training="lora")
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_" in n for n in trainable) and any(".xattn." in n for n in trainable)
    for name in trainable:
        assert "lora_" in name or ".xattn." in name or not name.startswith("lm."), name
    frozen = _lm_weights(model)
    lora_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    train_steps(model, batch, steps=2)
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, frozen[name]), f"{name} changed"
    assert any(
        not torch.equal(p, lora_before[n]) for n, p in model.named_parameters() if n in lora_before
    )


def test_frozen_lm_trains_fusion_only(batch):
    model = build(fusion="prefix", lm_training="frozen", unfreeze=["lm_head"])
    total, trainable = model.count_parameters()
    fusion = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("lm."))
    head = sum(p.numel() for n, p in model.named_parameters() if "lm_head" in n)
    assert trainable == fusion + head < total
    frozen = {n: w for n, w in _lm_weights(model).items() if "lm_head" not in n}
    history = train_steps(model, batch, steps=5)
    assert history[-1] < history[0]
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, frozen[name]), f"{name} changed"


def test_gradient_checkpointing_and_param_groups(batch):
    model = build(fusion="both", gradient_checkpointing=True, fusion_lr_scale=10.0)
    groups = model.get_optimizer_parameters({"optimizer": {"params": {"lr": 1e-3}}})
    assert [g["name"] for g in groups] == ["fusion", "lm"] and groups[0]["lr"] == pytest.approx(
        1e-2
    )
    assert sum(len(g["params"]) for g in groups) == len(
        [p for p in model.parameters() if p.requires_grad]
    )
    history = train_steps(model, batch, steps=3)
    assert history[-1] < history[0]


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="fusion"):
        build(fusion="late")
    with pytest.raises(ValueError, match="vocab_size"):
        build(**{"lm.config.vocab_size": 8})
    with pytest.raises(ValueError, match="lm_training"):
        build(lm_training="half")
    with pytest.raises(ValueError, match="num_answers"):
        build(task="vqa_classification")
