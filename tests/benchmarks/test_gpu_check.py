"""benchmarks/gpu_check.py: exits cleanly without CUDA, and its run config is the one it says."""

import importlib.util
import sys

import pytest
import torch

from mmf_imgtune.utils.testing import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gpu_check", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_exits_with_code_2_and_a_message_without_cuda(capsys):
    assert _load().main(["--skip-tests"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_its_run_is_bf16_imgtune_on_the_gpu_with_the_qwen2_shape(tmp_path):
    gpu_check = _load()
    settings = gpu_check.run_args(gpu_check.parse_args(["--seq-len", "64", "--regions", "36"]))
    config = gpu_check.IMGTUNE.config_for(5, str(tmp_path), settings)
    lm = config.model_config.imgtune.lm.config
    assert (lm.model_type, lm.num_hidden_layers, lm.hidden_size) == ("qwen2", 24, 896)
    assert (config.training.precision, config.training.accelerator) == ("bf16-mixed", "gpu")
    assert config.dataset_config.image_text_jsonl.max_features == 36
    text = config.dataset_config.image_text_jsonl.processors.text_processor.params
    assert text.max_seq_length == 64
