"""``mmf_imgtune_chat_web``: a local web page to chat about an uploaded image.

    mmf_imgtune_chat_web --checkpoint DIR|save/current.ckpt [--grid K] [--host 127.0.0.1]
        [--port 7860] [--device cpu]

The page (``chat_page.html``: one HTML file with a few lines of script, nothing fetched from
the network) is served by the OpenAI-compatible server of ``mmf_imgtune_serve``
(``mmf_imgtune.inference.server``): it keeps the conversation itself, sends it with the
image (a data URL, with the boxes typed beside it) to ``POST /v1/chat/completions`` and
shows the answer as it streams, then the region-attention picture of the answer
(``POST /v1/attention``). ``--checkpoint`` is an export folder, a run folder or a checkpoint.
Exit codes: 0 stopped, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_chat_web", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint", required=True, help="export folder, run folder or checkpoint"
    )
    parser.add_argument("--grid", type=int, help="regions without given boxes: K x K grid")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (local only)")
    parser.add_argument("--port", type=int, default=7860, help="0: any free port")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    return parser.parse_args(list(argv))


def build_app(args: argparse.Namespace) -> Any:
    # lazy: --help answers without loading torch, FastAPI and the model
    from mmf_imgtune.inference.pipeline import pipeline
    from mmf_imgtune.inference.server.app import create_app

    return create_app(pipeline(args.checkpoint, device=args.device, grid=args.grid))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from mmf_imgtune.inference.server.run import run_app

    banner = f"open http://{args.host}:{args.port}/"
    return run_app(lambda: build_app(args), args.host, args.port, "mmf_imgtune_chat_web", banner)


if __name__ == "__main__":
    raise SystemExit(main())
