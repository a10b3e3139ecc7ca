"""``mmf_imgtune_serve``: an OpenAI-compatible chat-completions API for an ImgTune export.

    mmf_imgtune_serve DIR [--host 127.0.0.1] [--port 8000] [--device cpu] [--max-batch 8]
        [--max-queue 64] [--wait-ms 5] [--grid K] [--allow-folder IMAGES_DIR]

DIR is an ``mmf_imgtune_export`` folder (or a run folder / checkpoint). Routes: POST
/v1/chat/completions (text and image_url parts, stream, max_tokens, temperature, seed,
multi-turn messages for dialogue exports), GET /v1/models, GET /health, and the chat page at
/. Use it with the official ``openai`` client (``base_url="http://127.0.0.1:8000/v1"``). See
docs/serving.md. Exit codes: 0 stopped, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mmf_imgtune_serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="an mmf_imgtune_export folder (or a run folder/checkpoint)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    parser.add_argument("--max-batch", type=int, default=8, help="requests decoded together")
    parser.add_argument("--max-queue", type=int, default=64, help="waiting requests before 503")
    parser.add_argument("--wait-ms", type=float, default=5.0, help="wait for a batch to fill")
    parser.add_argument("--grid", type=int, help="regions of images without boxes: K x K grid "
                        "(when the training store had no grid or detector)")  # fmt: skip
    parser.add_argument("--allow-folder", type=Path,
                        help="accept image file paths inside this folder (default: data URLs only)")  # fmt: skip
    return parser.parse_args(list(argv))


def build(args: argparse.Namespace):
    """The FastAPI app of the parsed arguments."""
    # lazy: --help answers without loading torch, FastAPI and the model
    from mmf_imgtune.inference.pipeline import pipeline
    from mmf_imgtune.inference.server.app import ServeOptions, create_app

    pipe = pipeline(args.model, device=args.device, grid=args.grid)
    options = ServeOptions(max_batch=args.max_batch, max_queue=args.max_queue,
                           wait_ms=args.wait_ms, allow_folder=args.allow_folder)  # fmt: skip
    return create_app(pipe, options)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from mmf_imgtune.inference.server.run import run_app

    banner = f"http://{args.host}:{args.port}/v1 (chat page: /)"
    return run_app(lambda: build(args), args.host, args.port, "mmf_imgtune_serve", banner)


if __name__ == "__main__":
    raise SystemExit(main())
