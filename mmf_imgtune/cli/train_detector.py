"""``mmf_imgtune_train_detector``: fine-tune the torchvision detector on a COCO-format file.

    mmf_imgtune_train_detector --annotations train.json --output detector.pt [--steps 300]
    mmf_imgtune_extract --images DIR --output feats --weights detector.pt

Defaults are ``mmf_imgtune.regions.train.train_detector``'s (options not given are not passed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmf_imgtune.cli.options import add_passthrough_options, apply_threads

OPTIONS = {  # flag: (type, help)
    "image_root": (str, "image folder (default: the annotation file's folder)"),
    "backbone": (str, "mobilenet_v2 (light, offline ImageNet weights) | resnet50_fpn | ..."),
    "steps": (int, "optimizer steps"),
    "batch_size": (int, "images per step"),
    "lr": (float, "SGD learning rate (linear warmup, cosine decay)"),
    "warmup_steps": (int, "warmup steps"),
    "min_size": (int, "detector input: shorter side in pixels"),
    "max_size": (int, "detector input: longer side cap in pixels"),
    "device": (str, "cpu, cuda, ..."),
    "seed": (int, "random seed"),
}


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="mmf_imgtune_train_detector",
        description="Fine-tune a Faster R-CNN on COCO-format boxes for region feature extraction.",
    )
    cli.add_argument("--annotations", required=True, help="COCO-format annotation json")
    cli.add_argument("--output", required=True, help="checkpoint to write (for --weights)")
    add_passthrough_options(cli, OPTIONS)
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(parser().parse_args(argv))
    apply_threads(args)
    # lazy: torchvision detection models load after argument parsing (fast --help)
    from mmf_imgtune.regions.train import train_detector

    try:
        result = train_detector(args.pop("annotations"), args.pop("output"), **args)
    except (ValueError, FileNotFoundError, FloatingPointError, OSError) as error:
        print(f"mmf_imgtune_train_detector: error: {error}", file=sys.stderr)
        return 2
    losses = result["losses"]
    print(
        f"trained {len(losses)} steps in {result['seconds']:.1f} s: loss {losses[0]:.3f} -> "
        f"{losses[-1]:.3f}; classes {result['class_names']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
