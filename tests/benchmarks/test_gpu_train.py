"""benchmarks/gpu_train.py: exits cleanly without CUDA; its model and batch work (tiny, CPU)."""

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_train.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_exits_with_code_2_and_a_message_on_cpu(capsys):
    assert _load().main(["--steps", "1"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_model_and_batch_train_on_a_tiny_llm(monkeypatch):
    gpu_train = _load()
    monkeypatch.setattr(
        gpu_train,
        "QWEN2_0_5B",
        {
            "model_type": "qwen2",
            "vocab_size": 64,
            "hidden_size": 28,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "max_position_embeddings": 64,
            "tie_word_embeddings": True,
        },
    )
    args = gpu_train.parse_args(
        [
            "--batch-size",
            "2",
            "--seq-len",
            "8",
            "--regions",
            "3",
            "--feature-dim",
            "16",
            "--fusion",
            "both",
        ]
    )
    model = gpu_train.build(args, torch.device("cpu"))
    loss = sum(model(gpu_train.random_batch(args, torch.device("cpu")))["losses"].values())
    loss.backward()
    assert torch.isfinite(loss) and model.region_encoder.projector[0].weight.grad is not None
