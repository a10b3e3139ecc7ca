"""``precision: auto`` follows torch's own bf16 capability checks, and the CPU thread split
fits the usable cores."""

import pytest
import torch
from omegaconf import OmegaConf

from mmf_imgtune.trainer.build import processes_per_node, resolve_precision
from mmf_imgtune.utils import hardware


def _cpu_with(monkeypatch, avx512_bf16: bool, amx: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


def _training(**keys):
    base = {"precision": "auto", "fp16": False, "accelerator": "cpu", "devices": 1}
    return OmegaConf.create({**base, **keys})


@pytest.mark.parametrize(
    "avx512_bf16,amx,expected,reason",
    [
        (True, False, "bf16-mixed", "the CPU has AVX512-BF16"),
        (False, True, "bf16-mixed", "the CPU has AMX-BF16"),
        (True, True, "bf16-mixed", "the CPU has AMX-BF16 and AVX512-BF16"),
        (False, False, "32-true", "has neither AMX-BF16 nor AVX512-BF16"),
    ],
)
def test_auto_precision_on_the_cpu_says_what_and_why(
    monkeypatch, capsys, avx512_bf16, amx, expected, reason
):
    _cpu_with(monkeypatch, avx512_bf16, amx)
    assert resolve_precision(_training(), announce=True) == expected
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"training.precision=auto -> {expected} (") and reason in line


def test_auto_precision_on_cuda_asks_for_native_bf16_not_emulation(monkeypatch):
    asked = {}

    def is_bf16_supported(including_emulation=True):
        asked["including_emulation"] = including_emulation
        return False

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert resolve_precision(_training(accelerator="gpu")) == "32-true"
    assert asked == {"including_emulation": False}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert hardware.auto_precision("cuda") == ("bf16-mixed", "Tesla V100 computes bf16")


def test_explicit_precision_is_kept_and_auto_is_listed_among_the_choices():
    assert resolve_precision(_training(precision="32")) == "32-true"
    with pytest.raises(ValueError, match="auto"):
        resolve_precision(_training(precision="bf17"))


def test_threads_split_the_usable_cores(monkeypatch):
    monkeypatch.setattr(hardware, "usable_cores", lambda: 16)
    assert hardware.threads_per_process(1) == 16
    assert hardware.threads_per_process(4) == 4
    assert hardware.threads_per_process(3) == 5  # never more than the cores in sum
    assert hardware.threads_per_process(32) == 1  # at least one
    assert hardware.threads_per_process(4, override=2) == 2
    with pytest.raises(ValueError, match="CPU threads must be >= 1"):
        hardware.threads_per_process(1, override=0)


def test_processes_per_node_counts_what_the_launcher_starts(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert processes_per_node(_training(devices=2)) == 2
    assert processes_per_node(_training(devices="auto")) == 1
    assert processes_per_node(_training(devices=[0, 1, 2])) == 3
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun --nproc-per-node 4
    assert processes_per_node(_training(devices=1)) == 4


def test_set_cpu_threads_sets_torch_and_prints_once(monkeypatch, capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    monkeypatch.setattr(hardware, "_ANNOUNCED", set())
    try:
        assert hardware.set_cpu_threads(1, override=1, who="test") == 1
        assert torch.get_num_threads() == 1
        hardware.set_cpu_threads(1, override=1, who="test")
        assert capsys.readouterr().err.count("test: 1 CPU thread(s) per process") == 1
    finally:
        torch.set_num_threads(before)
