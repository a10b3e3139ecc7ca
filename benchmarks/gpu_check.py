"""The GPU check: everything only a CUDA GPU can tell, in one run of under 8 minutes.

    python benchmarks/gpu_check.py [--updates 30] [--repeats 2] [--batch-size 8]
        [--seq-len 256] [--regions 36] [--peak-tflops 989] [--skip-tests] [--json FILE]

1. Runs the ``gpu``-marked tests (``tests/gpu``): bf16 ``mmf_run`` of ImgTune with a
   Qwen2-0.5B-shaped random LLM, generation and region extraction on CUDA against the CPU,
   DDP over NCCL against one process when two GPUs exist.
2. Trains ImgTune (prefix captioning, the same Qwen2-0.5B-shaped LLM in full, bf16-mixed,
   ``--batch-size`` x (``--seq-len`` text + ``--regions`` visual tokens)) through ``mmf_run``
   and, alternating ``--repeats`` times, the bare HF loop of ``benchmarks/trainer_overhead.py``
   doing the same math. Prints tokens/s, peak GPU memory, MFU through mmf_run
   (``mmf_imgtune.utils.flops``: matmuls counted from a real forward pass, 6N per token for
   trained weights and 4N for frozen ones, attention included) against ``--peak-tflops``
   (dense bf16 peak; 989 for H100/H200 SXM), and ``mmf_run`` step time over the bare loop's.

Without CUDA it prints why and exits with code 2 (nothing measured). Exit code 1: a test failed
(the figures are still printed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_overhead import IMGTUNE, time_runtime  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
EXIT_NO_GPU = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=30, help="optimizer steps per timed run")
    parser.add_argument("--repeats", type=int, default=2, help="mmf_run / bare loop pairs")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256, help="text tokens per sample")
    parser.add_argument("--regions", type=int, default=36, help="visual tokens per sample")
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--skip-tests", action="store_true", help="figures only")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def run_args(args: argparse.Namespace) -> argparse.Namespace:
    """What trainer_overhead's IMGTUNE reads: the Qwen2-0.5B shape on the GPU in bf16."""
    return argparse.Namespace(
        model="imgtune", lm="qwen2_0_5b", accelerator="gpu", precision="bf16-mixed",
        batch_size=args.batch_size, seq_len=args.seq_len, regions=args.regions,
        feature_dim=2048, layers=0, hidden=0,
    )  # fmt: skip


def run_tests() -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-m", "gpu", "tests/gpu"]
    print("$", " ".join(command[1:]), flush=True)
    return subprocess.run(command, cwd=REPO_ROOT, timeout=420).returncode


def step_flops(settings: argparse.Namespace):
    """FLOPs of one training step on a real batch of the run's data."""
    from mmf_imgtune.trainer import build_model
    from mmf_imgtune.trainer.datamodule import MMFDataModule
    from mmf_imgtune.utils.flops import imgtune_step_flops

    with tempfile.TemporaryDirectory() as save_dir:
        config = IMGTUNE.config_for(1, save_dir, settings)
        model = build_model(config).cuda()
        data = MMFDataModule(config)
        data.prepare_data()
        data.setup("fit")
        batch = next(iter(data.train_dataloader())).to("cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16):
            flops = imgtune_step_flops(model, batch)
        del model
        torch.cuda.empty_cache()
        return flops


def measure(args: argparse.Namespace) -> dict:
    settings = run_args(args)
    IMGTUNE.time_bare_hf_loop(3, settings)  # warm-up: CUDA context, kernels, allocator
    bare, runtime, peaks = [], [], []
    for repeat in range(args.repeats):
        bare.append(IMGTUNE.time_bare_hf_loop(args.updates, settings))
        torch.cuda.reset_peak_memory_stats()
        runtime.append(time_runtime(args.updates, settings)[0])
        peaks.append(torch.cuda.max_memory_allocated() / 2**30)
        print(f"repeat {repeat}: bare HF loop {bare[-1]:.2f}s  mmf_run loop {runtime[-1]:.2f}s",
              flush=True)  # fmt: skip
    flops = step_flops(settings)
    seconds = statistics.median(runtime)
    tokens = args.batch_size * (args.seq_len + args.regions) * args.updates
    return {
        "gpu": torch.cuda.get_device_name(),
        "updates": args.updates,
        "mmf_run_loop_seconds": seconds,
        "bare_loop_seconds": statistics.median(bare),
        "step_time_ratio": seconds / statistics.median(bare),
        "tokens_per_s": tokens / seconds,
        "peak_memory_gib": max(peaks),
        "step_tflop": flops.training / 1e12,
        "mfu": flops.training * args.updates / seconds / (args.peak_tflops * 1e12),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU (torch.cuda.is_available() is False); nothing was run. "
            "Exit code 2.",
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    tests = 0 if args.skip_tests else run_tests()
    figures = measure(args)
    print(f"ImgTune prefix, Qwen2-0.5B-shaped LLM (full), bf16-mixed, {figures['gpu']}: "
          f"batch {args.batch_size} x ({args.seq_len} text + {args.regions} visual tokens), "
          f"{args.updates} updates per run")  # fmt: skip
    print(f"tokens/s {figures['tokens_per_s']:.0f}  peak memory "
          f"{figures['peak_memory_gib']:.2f} GiB  MFU {100 * figures['mfu']:.1f}% "
          f"({figures['step_tflop']:.2f} TFLOP a step, of {args.peak_tflops:.0f} TFLOP/s)")  # fmt: skip
    print(f"mmf_run step time / bare HF loop: {figures['step_time_ratio']:.3f} "
          f"(speed {1 / figures['step_time_ratio']:.3f}, target >= 0.95)")  # fmt: skip
    print(f"gpu tests: {'passed' if tests == 0 else f'FAILED (pytest exit {tests})'}"
          if not args.skip_tests else "gpu tests: skipped (--skip-tests)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "tests_exit": tests}, indent=1))
    return 0 if tests == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
