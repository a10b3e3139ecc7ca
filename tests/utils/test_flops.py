"""The FLOPs counter against a hand count of a tiny Llama, and against torch's own counter."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import LlamaConfig, LlamaForCausalLM

from mmf_imgtune.utils.flops import (
    StepFlops,
    attention_flops,
    count_matmul_flops,
    imgtune_step_flops,
    lm_attention_width,
)

# hidden h=8, MLP width i=16, L=2 layers, 2 heads of 4, vocabulary V=10.
TINY = {"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 32,
        "tie_word_embeddings": False}  # fmt: skip
B, T = 3, 4
# Hand count. Per layer: q, k, v, o (4 h^2 = 256) + gate, up, down (3 h i = 384) = 640
# weights; two layers 1280; the LM head h V = 80. N = 1360 matmul weights.
LAYER_WEIGHTS, HEAD_WEIGHTS = 640, 80
N = 2 * LAYER_WEIGHTS + HEAD_WEIGHTS
TOKENS = B * T
ATTENTION = 2 * 2 * TOKENS * T * 8 * 2  # Q K^T and A V: 2 matmuls x 2 FLOPs x Tq x Tk x width x L


def _tiny():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**TINY, attn_implementation="sdpa"))


def _forward(model):
    ids = torch.randint(0, 10, (B, T))
    return lambda: model(input_ids=ids)


def test_full_training_is_6n_per_token_plus_attention():
    model = _tiny()
    trainable, frozen = count_matmul_flops(model, _forward(model))
    assert (trainable, frozen) == (2 * N * TOKENS, 0)
    assert attention_flops(2, lm_attention_width(model.config), T, T, B) == ATTENTION
    step = StepFlops(trainable, frozen, ATTENTION)
    assert step.training == 6 * N * TOKENS + 3 * ATTENTION  # 6N per token, attention 3x


def test_frozen_weights_are_4n_per_token():
    model = _tiny()
    for name, param in model.named_parameters():
        param.requires_grad_("lm_head" in name)  # only the head trains
    trainable, frozen = count_matmul_flops(model, _forward(model))
    assert trainable == 2 * HEAD_WEIGHTS * TOKENS and frozen == 2 * 2 * LAYER_WEIGHTS * TOKENS
    step = StepFlops(trainable, frozen, ATTENTION)
    expected = 6 * HEAD_WEIGHTS * TOKENS + 4 * 2 * LAYER_WEIGHTS * TOKENS + 3 * ATTENTION
    assert step.training == expected


def test_matmuls_agree_with_torch_flop_counter():
    """torch counts the aten matmuls it runs: forward, and the backward that autograd really
    runs (no weight gradient for frozen weights)."""
    model = _tiny()
    for name, param in model.named_parameters():
        param.requires_grad_("layers.1." in name or "lm_head" in name)
    ids = torch.randint(0, 10, (B, T))
    trainable, frozen = count_matmul_flops(model, lambda: model(input_ids=ids))
    counter = FlopCounterMode(display=False)
    with counter:
        model(input_ids=ids).logits.sum().backward()
    counts = counter.get_flop_counts()["Global"]
    measured = sum(v for k, v in counts.items() if "mm" in str(k) and "bmm" not in str(k))
    # Layer 0 is frozen: autograd skips its weight gradient and, as nothing below it trains,
    # its input gradient too (our count keeps the input gradient: 4N, the usual convention).
    layer0 = 2 * LAYER_WEIGHTS * TOKENS
    assert measured == 3 * trainable + 2 * frozen - layer0


def test_imgtune_step_counts_the_prefix_and_lora_as_frozen_base():
    from imgtune_helpers import build, make_batch

    batch = make_batch(size=2)
    full = imgtune_step_flops(build(fusion="prefix"), batch)
    lora = imgtune_step_flops(build(fusion="prefix", lm_training="lora"), batch)
    assert full.frozen_forward == 0 and lora.frozen_forward > 0
    # The same matmuls run (plus LoRA's small ones); LoRA moves the base weights to frozen.
    assert lora.trainable_forward + lora.frozen_forward > full.trainable_forward
    assert lora.training < full.training
    text, boxes = batch["input_ids"].size(1), batch["image_feature_0"].size(1)
    width = 32  # imgtune_helpers' tiny Llama: 4 heads x 8
    assert full.attention_forward == attention_flops(2, width, text + boxes, text + boxes, 2)
    both = imgtune_step_flops(build(fusion="both"), batch)
    cross = attention_flops(2, width, text, boxes, 2)  # a gated block before both layers
    assert both.attention_forward == pytest.approx(full.attention_forward + cross)
