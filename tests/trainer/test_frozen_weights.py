"""bf16-mixed keeps frozen matmul weights in bf16 once: the same numbers as autocast's per-step
casts, trained weights and optimizer state in fp32, and exact resume."""

import copy

import pytest
import torch
from torch import nn

from mmf_imgtune.cli.run import run
from mmf_imgtune.trainer.checkpoint_io import safe_torch_load
from mmf_imgtune.trainer.frozen_weights import cast_frozen_linears, keep_frozen_in_autocast_dtype
from mmf_imgtune.utils.testing import assert_same_weights, checkpoint_weights


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 8)
        self.frozen = nn.Linear(8, 8)
        self.trained = nn.Linear(8, 8)
        self.head = nn.Linear(8, 11, bias=False)
        self.head.weight = self.embed.weight  # tied, as SmolLM2's LM head
        for param in [*self.frozen.parameters(), self.embed.weight]:
            param.requires_grad_(False)

    def forward(self, ids):
        return self.head(self.trained(self.frozen(self.embed(ids))))


def test_only_untied_frozen_linears_are_cast_and_autocast_computes_the_same():
    torch.manual_seed(0)
    model = TiedLM()
    cast = copy.deepcopy(model)
    assert cast_frozen_linears(cast, torch.bfloat16) == 8 * 8 + 8
    assert cast.frozen.weight.dtype == torch.bfloat16 and cast.frozen.bias.dtype == torch.bfloat16
    assert cast.trained.weight.dtype == torch.float32  # trains: stays fp32
    assert cast.embed.weight.dtype == torch.float32  # tied to the head: stays fp32
    ids = torch.randint(0, 11, (4, 5))
    outputs = []
    for net in (model, cast):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(ids)
        out.float().square().mean().backward()
        outputs.append((out, net.trained.weight.grad))
    torch.testing.assert_close(outputs[0][0], outputs[1][0], rtol=0, atol=0)
    torch.testing.assert_close(outputs[0][1], outputs[1][1], rtol=0, atol=0)


def test_cast_only_under_mixed_precision_and_never_under_fsdp():
    for precision, strategy, expected in [
        ("bf16-mixed", "auto", 72),
        ("bf16-mixed", "ddp", 72),
        ("bf16-mixed", "fsdp", 0),
        ("32-true", "auto", 0),
        ("bf16-true", "auto", 0),  # Lightning converts the whole module itself
    ]:
        assert keep_frozen_in_autocast_dtype(TiedLM(), precision, strategy) == expected


LORA_ON_TOY = [
    "model=imgtune",
    "dataset=toy",
    "run_type=train",
    "model_config.imgtune.task=binary",
    "model_config.imgtune.lm_training=lora",
    "model_config.imgtune.lm.config.vocab_size=16",
    "model_config.imgtune.lm.config.hidden_size=16",
    "model_config.imgtune.lm.config.intermediate_size=32",
    "model_config.imgtune.lm.config.num_attention_heads=2",
    "model_config.imgtune.lm.config.num_key_value_heads=2",
    "model_config.imgtune.lm.lora={r: 2, alpha: 4, target_modules: [q_proj, v_proj]}",
    "model_config.imgtune.region_encoder.feature_dim=16",
    "model_config.imgtune.region_encoder.use_box_geometry=false",
    "training.precision=bf16-mixed",
    "training.accelerator=cpu",
    "training.batch_size=8",
    "training.checkpoint_interval=2",
    "training.evaluation_interval=100",
    "training.progress_bar=false",
    "dataset_config.toy.sizes={train: 32, val: 8, test: 8}",
]


@pytest.mark.slow
def test_bf16_mixed_lora_run_resumes_exactly_with_fp32_adapters_and_state(tmp_path):
    torch.set_num_threads(1)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    result = run([*LORA_ON_TOY, "training.max_updates=4", f"env.save_dir={straight}"])
    assert result["precision"] == "bf16-mixed" and result["num_updates"] == 4
    run([*LORA_ON_TOY, "training.max_updates=2", f"env.save_dir={resumed}"])
    run([*LORA_ON_TOY, "training.max_updates=4", "checkpoint.resume=true",
         f"env.save_dir={resumed}"])  # fmt: skip
    weights = checkpoint_weights(straight / "current.ckpt")
    assert_same_weights(weights, checkpoint_weights(resumed / "current.ckpt"))
    dtypes = {name: tensor.dtype for name, tensor in weights.items()}
    assert dtypes[
        "model.lm.base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight"
    ] == (torch.bfloat16)
    trained = [name for name in dtypes if "lora_" in name or name.startswith("model.region")]
    assert trained and all(dtypes[name] == torch.float32 for name in trained)
    state = safe_torch_load(straight / "current.ckpt")["optimizer_states"][0]["state"]
    assert state and all(t.dtype == torch.float32 for s in state.values() for t in s.values()
                         if t.dim() > 0)  # fmt: skip
