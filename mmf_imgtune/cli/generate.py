"""``mmf_imgtune_generate``: answer a prompt about one image with a trained ImgTune checkpoint.

    mmf_imgtune_generate --checkpoint save/best.ckpt --image x.png --prompt "what colour is
    the circle?" [--config save/config.yaml] [--boxes '[[x1, y1, x2, y2], ...]' [--objects
    '[3, 7]'] | --grid K | --detect] [--explain out.png] [--max-new-tokens N] [--num-beams N]
    [--device cpu]

The run's resolved ``config.yaml`` (next to the checkpoint, or one folder up for
``models/model_<N>.ckpt``) says how the model was built and which feature store it trained
on; the image's regions are made the way that store's were
(``mmf_imgtune.inference.generate``). Boxes: ``--boxes`` (given), ``--grid K``,
``--detect`` (the store's detector), or by default the store's own source for images
without given boxes. Prints the answer; notes go to stderr.
Exit codes: 0 success, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmf_imgtune.inference.generate import answer_prompt
from mmf_imgtune.inference.inputs import RegionRequest
from mmf_imgtune.inference.runs import InferenceError, open_generating_run


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_generate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint", required=True, help="current.ckpt / best.ckpt / model_N.ckpt"
    )
    parser.add_argument("--image", required=True, help="image file (png, jpg, ...)")
    parser.add_argument("--prompt", required=True, help="question or caption prompt")
    parser.add_argument(
        "--config", help="the run's config.yaml (default: found next to the checkpoint)"
    )
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument(
        "--boxes",
        help="JSON list of [x1, y1, x2, y2] pixel boxes (default: the boxes the training "
        "store's features were made with: its grid or its detector)",
    )
    boxes.add_argument("--grid", type=int, help="regions: the whole image + a K x K grid")
    boxes.add_argument(
        "--detect", action="store_true", help="regions: the training store's detector"
    )
    parser.add_argument(
        "--objects", help="JSON list of class ids, one per --boxes box (models trained with them)"
    )
    parser.add_argument("--explain", metavar="PNG", help="also save a region-attention figure")
    parser.add_argument("--max-new-tokens", type=int, help="override generation.max_new_tokens")
    parser.add_argument("--num-beams", type=int, help="override generation.num_beams")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    return parser.parse_args(list(argv))


def region_request(args: argparse.Namespace) -> RegionRequest:
    """``--boxes``/``--objects``/``--grid``/``--detect`` (chat's flags too)."""
    return RegionRequest(args.boxes, args.objects, args.grid, args.detect)


def generate(argv: Sequence[str]) -> dict:
    """Run the command; returns ``answer`` (and ``explanation`` with --explain)."""
    args = parse_args(argv)
    run = open_generating_run(args.checkpoint, args.device, args.config)
    return answer_prompt(
        run,
        args.image,
        args.prompt,
        region_request(args),
        max_new_tokens=args.max_new_tokens,
        num_beams=args.num_beams,
        explain_png=args.explain,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console script; prints the answer (and where the explanation went)."""
    try:
        result = generate(sys.argv[1:] if argv is None else argv)
    except InferenceError as error:
        print(f"mmf_imgtune_generate: error: {error}", file=sys.stderr)
        return 2
    print(result["answer"])
    if "explanation" in result:
        weights = ", ".join(f"{w:.2f}" for w in result["explanation"]["weights"])
        print(
            f"explanation: {result['explanation']['path']} (region weights {weights})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
