"""Precision: Lightning's names and aliases are accepted, 16-bit falls back on the CPU, and
bf16-true trains every model and task (the classifier and retrieval heads used to cast their
input to float32 against bf16 weights)."""

import pytest
import torch
from dist_helpers import all_cases, build_case, case_name
from lightning.fabric.connector import _convert_precision_to_unified_args
from lightning.pytorch.plugins.precision import HalfPrecision
from omegaconf import OmegaConf

from mmf_imgtune.cli.run import run
from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.trainer.build import PRECISION_ALIASES, PRECISIONS, resolve_precision


def _training(precision, accelerator="gpu", fp16=False):
    return OmegaConf.create({"precision": precision, "fp16": fp16, "accelerator": accelerator})


@pytest.mark.parametrize("name", [*PRECISIONS, *PRECISION_ALIASES, 16, 32, 64])
def test_names_and_aliases_mean_what_lightning_means(name):
    assert resolve_precision(_training(name)) == _convert_precision_to_unified_args(name)


def test_fp16_falls_back_to_bf16_on_the_cpu_and_bad_names_list_the_choices():
    with pytest.warns(UserWarning, match="needs a GPU"):
        assert resolve_precision(_training("16-true", "cpu")) == "bf16-true"
    with pytest.warns(UserWarning, match="needs a GPU"):
        assert resolve_precision(_training(None, "cpu", fp16=True)) == "bf16-mixed"
    with pytest.raises(ConfigError, match="training.precision=bf17 .*bf16-true.*aliases"):
        resolve_precision(_training("bf17"))


CASES = [c for c in all_cases() if "control" not in c]


def test_bf16_true_trains_every_model_and_task():
    """Each model as Lightning's bf16-true runs it: weights and inputs in bf16, bf16 as the
    default dtype inside forward; two AdamW updates must give finite losses and move weights."""
    torch.set_num_threads(1)
    plugin = HalfPrecision("bf16-true")
    failures = {}
    for case in CASES:
        model, batch = build_case(case)
        model = plugin.convert_module(model)
        batch = plugin.convert_input(batch)
        trainable = [p for p in model.parameters() if p.requires_grad]
        before = [p.detach().clone() for p in trainable]
        optimizer = torch.optim.AdamW(trainable, lr=1e-2)
        try:
            for _ in range(2):
                with plugin.forward_context():
                    losses = model(batch)["losses"]
                loss = sum(value.mean() for value in losses.values())
                assert torch.isfinite(loss), f"loss {loss}"
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
        except Exception as error:
            failures[case_name(case)] = f"{type(error).__name__}: {str(error)[:200]}"
            continue
        assert all(p.dtype == torch.bfloat16 for p in trainable), case_name(case)
        if not any(not torch.equal(a, p) for a, p in zip(before, trainable)):
            failures[case_name(case)] = "no weight changed"
    assert not failures, failures


IMGTUNE_ON_TOY = [
    "model_config.imgtune.task=binary",
    "model_config.imgtune.lm.config.vocab_size=16",
    "model_config.imgtune.lm.config.hidden_size=16",
    "model_config.imgtune.lm.config.intermediate_size=32",
    "model_config.imgtune.lm.config.num_attention_heads=2",
    "model_config.imgtune.lm.config.num_key_value_heads=2",
    "model_config.imgtune.region_encoder.feature_dim=16",
    "model_config.imgtune.region_encoder.use_box_geometry=false",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "model,precision",
    [("imgtune", "bf16-true"), ("imgtune", "bf16"), ("imgtune", "64"), ("imgtune", "16-mixed")]
    + [("concat_bert", "bf16-true"), ("toy_classifier", "bf16-true"), ("toy_classifier", "32")],
)
def test_mmf_run_trains_in_each_precision(model, precision, tmp_path):
    args = {
        "imgtune": IMGTUNE_ON_TOY,
        "concat_bert": ["config=projects/baselines/configs/toy/concat_bert.yaml"],
        "toy_classifier": [],
    }[model] + [f"model={model}", "dataset=toy"]
    result = run(
        [
            *args,
            f"training.precision={precision}",
            "training.accelerator=cpu",
            "training.max_updates=2",
            "training.batch_size=8",
            "training.evaluation_interval=2",
            "training.progress_bar=false",
            "evaluation.metrics=[accuracy]",
            "dataset_config.toy.sizes={train: 16, val: 8, test: 8}",
            f"env.save_dir={tmp_path}",
        ]
    )
    assert result["num_updates"] == 2
    loss = result["metrics"]["val/toy/total_loss"]
    assert loss == loss and 0.0 < loss < 10.0  # finite, not NaN
