"""What only a CUDA GPU can check (``pytest -m gpu``; skipped with a reason without one):
bf16 ``mmf_run`` of ImgTune with a Qwen2-0.5B-shaped random LLM, generation and region
extraction on CUDA against the CPU, and DDP over NCCL against one process when two GPUs exist.
``benchmarks/gpu_check.py`` runs these and then prints the speed figures."""

import argparse
import csv
import math
import sys

import pytest
import torch

from mmf_imgtune.utils.testing import REPO_ROOT, checkpoint_weights, run_cli

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from trainer_overhead import IMGTUNE  # noqa: E402

pytestmark = pytest.mark.gpu
two_gpus = pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs two CUDA GPUs"
)


def _args(**extra) -> argparse.Namespace:
    base = {"layers": 2, "hidden": 64, "batch_size": 8, "accelerator": "gpu"}
    return argparse.Namespace(**{**base, **extra})


def test_bf16_mmf_run_trains_imgtune_with_a_qwen2_0_5b_shaped_llm(tmp_path):
    from mmf_imgtune.config import build_config
    from mmf_imgtune.trainer import run_training

    args = _args(lm="qwen2_0_5b", precision="bf16-mixed", seq_len=64, regions=36,
                 feature_dim=2048)  # fmt: skip
    overrides = [*IMGTUNE.overrides(20, str(tmp_path), args), "training.log_interval=5"]
    result = run_training(build_config(overrides))
    assert result["num_updates"] == 20 and result["parameters"] > 4e8
    with open(tmp_path / "logs" / "csv" / "metrics.csv", newline="") as handle:
        losses = [float(r["train/total_loss"]) for r in csv.DictReader(handle)
                  if r.get("train/total_loss")]  # fmt: skip
    # A random LLM starts near ln(vocabulary) = 11.9; the captions use 120 of its words.
    assert len(losses) >= 2 and all(math.isfinite(x) for x in losses), losses
    assert losses[-1] < math.log(151936) - 2, losses


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generation_on_cuda_picks_the_cpu_tokens(num_beams):
    from imgtune_helpers import build, make_batch

    model = build(fusion="both").eval()
    for name, param in model.named_parameters():
        if name.endswith("_gate"):
            param.data.fill_(0.5)  # let the image in
    batch = make_batch(size=4, with_answer=False)
    on_cpu = model.generate(batch, num_beams=num_beams)
    on_cuda = model.cuda().generate(batch.to("cuda"), num_beams=num_beams)
    assert on_cuda == on_cpu
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert len(model.generate(batch.to("cuda"), num_beams=num_beams)) == 4


def test_region_extraction_on_cuda_matches_the_cpu(tmp_path):
    from PIL import Image

    from mmf_imgtune.io.features import FeatureReader
    from mmf_imgtune.regions import extract_features

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(4):
        Image.new("RGB", (64, 48), (60 * index, 90, 200 - 40 * index)).save(folder / f"{index}.png")
    fast = {"grid": 2, "min_size": 64, "max_size": 64, "progress": False, "fsync": False}
    extract_features(str(folder), str(tmp_path / "cpu"), device="cpu", **fast)
    summary = extract_features(str(folder), str(tmp_path / "cuda"), device="cuda", **fast)
    assert summary.written == 4
    cpu, cuda = FeatureReader(str(tmp_path / "cpu"), 5), FeatureReader(str(tmp_path / "cuda"), 5)
    for key in cpu.keys():
        a, b = cpu.read(key)[0], cuda.read(key)[0]
        assert torch.allclose(a, b, atol=1e-3, rtol=1e-3), (key, float((a - b).abs().max()))


@two_gpus
def test_ddp_over_nccl_ends_where_one_process_ends(tmp_path):
    args = _args(precision="32")
    single = [*IMGTUNE.overrides(6, str(tmp_path / "single"), args), "training.devices=1"]
    twin = [*IMGTUNE.overrides(6, str(tmp_path / "twin"), args), "training.devices=2",
            "training.strategy=ddp"]  # fmt: skip
    for overrides, save in ((single, "single"), (twin, "twin")):
        done = run_cli(overrides, tmp_path / save)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # NCCL sums the two halves' gradients in another order: float32 ulps, not bits.
    a = checkpoint_weights(tmp_path / "single" / "current.ckpt")
    b = checkpoint_weights(tmp_path / "twin" / "current.ckpt")
    assert a.keys() == b.keys()
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert worst <= 1e-4, f"weights differ by {worst:.3g}"
