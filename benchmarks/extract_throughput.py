"""Extraction throughput (images/s) of each available backend at batch sizes 1 and 8.

    .venv/bin/python benchmarks/extract_throughput.py [--images 16] [--size 128] [--device cuda]
        [--threads 2] [--runs grid,untrained,...] [--detectron2-config CFG --detectron2-weights W]

Generates ``--images`` coloured-shape images of ``--size`` pixels with two known boxes each,
then times ``extract_features`` (npy output, no fsync) for (``--runs`` picks by short name):
- ``grid``: the default without weights or boxes: whole image + 4x4 grid, ImageNet
  MobileNetV2 ``mid`` (no detector forward);
- ``grid_pooled``: the same grid, ``pooled`` layer (the whole backbone);
- ``untrained``: what the default was before grids: an untrained RPN over the ImageNet
  backbone (now only with weights="random"), bottom-up selection (10-100 boxes), ``mid``;
- ``given``: torchvision mobilenet_v2, given boxes, ImageNet weights (``mid``);
- torchvision mobilenet_v2 detector (random heads, detection + per-class NMS, ``box_head``);
- torchvision resnet50_fpn detector (random weights, ``box_head``), input ``--size`` pixels;
- detectron2 when it imports and a config/weights pair is given.
Random-weight detectors time the same computation as trained ones (weights change values,
not work), except that NMS cost grows with the number of confident boxes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torchvision.io import write_png

from mmf_imgtune.regions import extract_features
from mmf_imgtune.regions.detector import build_detector, save_detector


def make_images(folder: Path, count: int, size: int) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    boxes = {}
    for index in range(count):
        image = torch.full((3, size, size), 60, dtype=torch.uint8)
        pairs = []
        for _ in range(2):
            side = int(rng.integers(size // 8, size // 3))
            x, y = (int(v) for v in rng.integers(0, size - side, 2))
            image[:, y : y + side, x : x + side] = torch.from_numpy(rng.integers(0, 256, (3, 1, 1)))
            pairs.append([x, y, x + side, y + side])
        write_png(image, str(folder / f"{index}.png"))
        boxes[str(index)] = np.asarray(pairs, dtype=np.float32)
    return boxes


def time_run(folder: Path, out: Path, **options) -> tuple[float, int, float]:
    shutil.rmtree(out, ignore_errors=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the one-line notice, once per run
        summary = extract_features(str(folder), str(out), fsync=False, progress=False, **options)
    # The extraction loop alone (the model is built, and its weights read, before it).
    return summary.images_per_second, summary.feature_dim, summary.mean_boxes


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--images", type=int, default=16)
    cli.add_argument("--size", type=int, default=128)
    cli.add_argument("--device", default="cpu")
    cli.add_argument("--threads", type=int, default=2)
    cli.add_argument("--runs", help="comma-separated short names (default: all)")
    cli.add_argument("--detectron2-config")
    cli.add_argument("--detectron2-weights")
    args = cli.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp())
    try:
        boxes = make_images(root / "images", args.images, args.size)
        size = {"min_size": args.size, "max_size": args.size, "device": args.device}
        detectors = {}
        for backbone in ("mobilenet_v2", "resnet50_fpn"):
            model = build_detector(backbone, 91, imagenet_backbone=False)
            detectors[backbone] = str(root / f"{backbone}.pt")
            save_detector(model, detectors[backbone], backbone, [f"c{i}" for i in range(90)])
        runs = {
            "grid": ("torchvision mobilenet_v2 grid 4x4 (mid, default)", {}),
            "grid_pooled": ("torchvision mobilenet_v2 grid 4x4 (pooled)", {"layer": "pooled"}),
            "untrained": (
                "torchvision untrained RPN (mid, old default)",
                {"weights": "random", "layer": "mid", "detect": True},
            ),
            "given": ("torchvision mobilenet_v2 given boxes (mid)", {"boxes": boxes}),
            "mobilenet_det": (
                "torchvision mobilenet_v2 detect (box_head)",
                {"weights": detectors["mobilenet_v2"], "num_boxes": 10},
            ),
            "resnet_det": (
                "torchvision resnet50_fpn detect (box_head)",
                {"weights": detectors["resnet50_fpn"], "num_boxes": 10},
            ),
        }
        chosen = args.runs.split(",") if args.runs else list(runs)
        unknown = sorted(set(chosen) - set(runs))
        if unknown:
            raise SystemExit(f"--runs: unknown {unknown}; choose from {sorted(runs)}")
        runs = {runs[name][0]: runs[name][1] for name in chosen}
        if importlib.util.find_spec("detectron2") and args.detectron2_config:
            runs["detectron2 detect"] = {
                "backend": "detectron2",
                "config_file": args.detectron2_config,
                "weights": args.detectron2_weights,
            }
        elif not importlib.util.find_spec("detectron2"):
            print("detectron2: not installed, skipped")
        print(
            f"{args.images} images of {args.size}px, device {args.device}, "
            f"{args.threads} CPU threads"
        )
        for name, options in runs.items():
            for batch_size in (1, 8):
                options = {**size, **options, "batch_size": batch_size}
                options.pop("detect", None)  # bottom-up selection defaults: 10 to 100 boxes
                if options.get("backend") == "detectron2":
                    for key in ("min_size", "max_size"):
                        options.pop(key)
                    options["num_boxes"] = 10
                rate, dim, boxes_per_image = time_run(root / "images", root / "out", **options)
                print(
                    f"  {name:48s} batch {batch_size}: {rate:8.2f} images/s "
                    f"(D={dim}, {boxes_per_image:.0f} boxes/image)"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
