"""ImgTune training throughput on one CUDA GPU: a 0.5B-class LLM in bf16, random weights.

    python benchmarks/gpu_train.py [--steps 100] [--batch-size 8] [--seq-len 256]
        [--regions 36] [--fusion prefix] [--peak-tflops 989] [--lm-training full]

Builds ImgTune around a Qwen2-0.5B-shaped LLM from its config alone (no download: 24 layers,
width 896, 14 heads / 2 KV heads, vocab 151,936), feeds random region features (2048-d, VG
Faster R-CNN width) and random token ids, and times ``--steps`` AdamW updates under bf16
autocast after ``--warmup`` untimed ones. Prints samples/s, tokens/s (visual prefix + text),
peak GPU memory and model FLOP utilisation, MFU = 6 * parameters * tokens/s / peak FLOP/s
(the PaLM paper's estimate, Chowdhery et al. 2022, appendix B; it ignores attention FLOPs and
counts frozen parameters as if trained). ``--peak-tflops``: dense bf16 peak of the GPU, 989
for H100/H200 SXM. Without CUDA it prints why and exits with code 2 (nothing measured).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

# Qwen2-0.5B's architecture (config.json of Qwen/Qwen2-0.5B), built with random weights.
QWEN2_0_5B = {
    "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "max_position_embeddings": 4096, "rope_theta": 1000000.0, "tie_word_embeddings": True,
}  # fmt: skip
EXIT_NO_GPU = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256, help="text tokens per sample")
    parser.add_argument("--regions", type=int, default=36, help="region features per image")
    parser.add_argument("--feature-dim", type=int, default=2048)
    parser.add_argument("--fusion", default="prefix", choices=["prefix", "cross_attention", "both"])
    parser.add_argument("--lm-training", default="full", choices=["full", "lora", "frozen"])
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=989.0,
        help="dense bf16 peak TFLOP/s of the GPU (H100/H200 SXM: 989)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def build(args: argparse.Namespace, device: torch.device) -> torch.nn.Module:
    from mmf_imgtune.models.imgtune import ImgTune

    config = {
        "lm": {"config": QWEN2_0_5B, "attn_implementation": "sdpa"},
        "fusion": args.fusion,
        "lm_training": args.lm_training,
        "region_encoder": {"feature_dim": args.feature_dim},
        "cross_attention": {"every": 4, "num_heads": 14},
        "dropout": 0.0,
    }
    return ImgTune(ImgTune.default_config(config)).init_from_config().to(device)


def random_batch(args: argparse.Namespace, device: torch.device):
    from mmf_imgtune.common.sample import SampleList

    b, t, n = args.batch_size, args.seq_len, args.regions
    ids = torch.randint(0, QWEN2_0_5B["vocab_size"], (b, t), device=device)
    labels = ids.clone()
    labels[:, : t // 2] = -100  # the first half is the "prompt"
    batch = SampleList(
        {
            "input_ids": ids,
            "input_mask": torch.ones_like(ids),
            "labels": labels,
            "image_feature_0": torch.randn(b, n, args.feature_dim, device=device),
            "image_info_0": {
                "num_boxes": torch.full((b,), n, device=device),
                "boxes_5d": torch.rand(b, n, 5, device=device),
            },
        }
    )
    batch.dataset_name, batch.dataset_type = "synthetic", "train"
    return batch


def measure(args: argparse.Namespace) -> dict:
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    model = build(args, device).train()
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=True
    )
    batch = random_batch(args, device)

    def step() -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = sum(model(batch)["losses"].values())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    prefix = args.regions if args.fusion in ("prefix", "both") else 0
    tokens_per_s = args.batch_size * (args.seq_len + prefix) * args.steps / seconds
    return {
        "gpu": torch.cuda.get_device_name(),
        "parameters": params,
        "steps": args.steps,
        "seconds": seconds,
        "samples_per_s": args.batch_size * args.steps / seconds,
        "tokens_per_s": tokens_per_s,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
        "mfu": 6 * params * tokens_per_s / (args.peak_tflops * 1e12),
        "final_loss": float(loss.detach()),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_train: no CUDA GPU (torch.cuda.is_available() is False); this benchmark "
            "measures GPU throughput only, nothing was run. Exit code 2.",
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    figures = measure(args)
    print(
        f"ImgTune ({args.fusion}, lm_training={args.lm_training}) on {figures['gpu']}: "
        f"Qwen2-0.5B-shaped LLM, {figures['parameters'] / 1e6:.0f}M parameters, bf16 autocast"
    )
    print(
        f"batch {args.batch_size} x ({args.seq_len} text + {args.regions} regions), "
        f"{args.steps} steps in {figures['seconds']:.1f} s"
    )
    print(
        f"samples/s {figures['samples_per_s']:.1f}  tokens/s {figures['tokens_per_s']:.0f}  "
        f"peak memory {figures['peak_memory_gib']:.2f} GiB  "
        f"MFU {100 * figures['mfu']:.1f}% (of {args.peak_tflops:.0f} TFLOP/s)"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
