"""``mmf_imgtune_extract``: region features for a folder of images, in MMF's formats.

    mmf_imgtune_extract --images DIR|ANNOTATIONS --output PATH [--format npy|lmdb]
        [--backend torchvision|detectron2] [--boxes ANNOTATIONS] [--grid K] [--weights FILE]

Boxes: ``--boxes`` (given), ``--grid K`` (the whole image + K x K cells), or detection with
trained ``--weights``; with none of them, a 4 x 4 grid (one line says so). Defaults are those
of ``mmf_imgtune.regions.extract_features`` (options not given are not passed), so they live
in one place. Re-running skips images already written; a store made with other settings
fails, naming both.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmf_imgtune.cli.options import add_passthrough_options, apply_threads
from mmf_imgtune.errors import MMFImgtuneError

OPTIONS = {  # flag: (type, help)
    "backend": (str, "torchvision (always available) or detectron2 (when it imports)"),
    "format": (str, "npy (folder of <name>.npy + <name>_info.npy) or lmdb (one LMDB)"),
    "weights": (
        str,
        "detector weights file (mmf_imgtune_train_detector's, torchvision's, "
        "or detectron2's): detects boxes; torchvision names like DEFAULT download; none: "
        "ImageNet MobileNetV2 backbone over --boxes or a grid; random: an untrained "
        "detector (tests only)",
    ),
    "config_file": (str, "detectron2 config yaml (detectron2 backend)"),
    "backbone": (str, "torchvision backbone: mobilenet_v2 | resnet50_fpn | mobilenet_v3_large_fpn"),
    "layer": (
        str,
        "features: box_head (1024-d), pooled (backbone channels: 1280 / 256 FPN) or mid "
        "(mobilenet_v2 stride-8+16 hypercolumn, 128-d; default without a detector)",
    ),
    "boxes": (
        str,
        "COCO .json / .jsonl annotation file with known boxes: pool features for "
        "them instead of detecting",
    ),
    "grid": (
        int,
        "images without --boxes: the whole image + a K x K grid of cells (grid features); "
        "the default without detector --weights is 4",
    ),
    "image_root": (str, "folder that relative paths of an annotation file resolve against"),
    "num_boxes": (int, "exactly N boxes per image (overrides min/max/threshold)"),
    "min_boxes": (int, "at least this many boxes per image"),
    "max_boxes": (int, "at most this many boxes per image"),
    "conf_threshold": (float, "keep boxes whose best class score reaches this"),
    "nms": (float, "IoU threshold of the per-class NMS"),
    "min_size": (int, "detector input: shorter side in pixels"),
    "max_size": (int, "detector input: longer side cap in pixels"),
    "batch_size": (int, "images per forward pass"),
    "device": (str, "cpu, cuda, cuda:1 ..."),
    "precision": (str, "backbone dtype: 32 (default), bf16, or auto (bf16 where native)"),
}


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="mmf_imgtune_extract",
        description="Extract region features (boxes + pooled box features) in MMF's formats.",
    )
    cli.add_argument("--images", required=True, help="image folder or annotation file")
    cli.add_argument("--output", required=True, help="output folder (npy) or *.lmdb path")
    add_passthrough_options(cli, OPTIONS)
    cli.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        default=argparse.SUPPRESS,
        help="skip fsync per file (faster; still atomic against crashes)",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(parser().parse_args(argv))
    apply_threads(args)
    # lazy: torchvision detection models load after argument parsing (fast --help)
    from mmf_imgtune.regions import extract_features

    try:
        summary = extract_features(args.pop("images"), args.pop("output"), **args)
    except (ImportError, ValueError, FileNotFoundError, MMFImgtuneError) as error:
        print(f"mmf_imgtune_extract: error: {error}", file=sys.stderr)
        return 2
    print(summary)
    # Some failed images are reported and skipped; a run where nothing could be read fails.
    return 1 if summary.failed and not (summary.written or summary.skipped_existing) else 0


if __name__ == "__main__":
    sys.exit(main())
