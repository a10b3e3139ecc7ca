"""``mmf_imgtune_chat``: talk about an image with a dialogue-trained ImgTune checkpoint.

    mmf_imgtune_chat --checkpoint save/current.ckpt --image x.png [--config save/config.yaml]
        [--boxes '[[x1, y1, x2, y2], ...]' [--objects '[3, 7]'] | --grid K | --detect]
        [--max-new-tokens N] [--no-cache-reuse] [--device cpu]

Reads one message a line from standard input and streams the answer's tokens to standard
output as they are generated; the history is kept (the LLM's KV cache too: earlier turns are
not re-encoded, ``mmf_imgtune.inference.chat``). Commands: ``/image PATH [BOXES_JSON]``
talk about another image (a new conversation), ``/reset`` forget the conversation,
``/help``, ``/quit``. The image's regions are made as ``mmf_imgtune_generate`` makes them
(the training store's extractor; ``--boxes`` / ``--grid`` / ``--detect``), the conversation
is rendered by the training ``chat_prompt`` processor. Notes go to stderr.
Exit codes: 0 success, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

import torch

from mmf_imgtune.inference.chat import ChatSession
from mmf_imgtune.inference.inputs import RegionRequest, image_batch
from mmf_imgtune.inference.runs import InferenceError, chat_renderer, open_generating_run

HELP = "commands: /image PATH [BOXES_JSON]  /reset  /help  /quit"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mmf_imgtune_chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="current.ckpt / best.ckpt")
    parser.add_argument("--image", help="image file (png, jpg, ...); /image switches")
    parser.add_argument("--config", help="the run's config.yaml (default: next to the checkpoint)")
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument("--boxes", help="JSON list of [x1, y1, x2, y2] pixel boxes")
    boxes.add_argument("--grid", type=int, help="regions: the whole image + a K x K grid")
    boxes.add_argument("--detect", action="store_true", help="regions: the store's detector")
    parser.add_argument("--objects", help="JSON list of class ids, one per --boxes box")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="longest answer")
    parser.add_argument(
        "--no-cache-reuse", action="store_true", help="re-encode the whole history every turn"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    return parser.parse_args(list(argv))


def region_request(args: argparse.Namespace, boxes: str | None) -> RegionRequest:
    """The flags' box source; ``--objects`` only belong to the ``--boxes`` of the command line."""
    objects = args.objects if boxes == args.boxes else None
    return RegionRequest(boxes, objects, args.grid, args.detect)


def _prompted(lines: TextIO):
    """The input lines, with a "you> " prompt on a terminal."""
    interactive = lines.isatty()
    while True:
        if interactive:
            print("you> ", end="", file=sys.stderr, flush=True)
        line = lines.readline()
        if not line:
            return
        yield line


def converse(args: argparse.Namespace, lines: TextIO, out: TextIO) -> int:
    """The read-answer loop; returns the number of answers given."""

    run = open_generating_run(args.checkpoint, args.device, args.config)
    session = ChatSession(
        run.model, chat_renderer(run.config), args.max_new_tokens, not args.no_cache_reuse
    )
    if args.image:
        session.set_image(image_batch(run, args.image, region_request(args, args.boxes)))
    print(f"mmf_imgtune_chat: ready ({HELP})", file=sys.stderr)
    answers = 0
    for line in _prompted(lines):
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/help":
            print(HELP, file=sys.stderr)
        elif text == "/reset":
            session.reset()
            print("mmf_imgtune_chat: conversation reset", file=sys.stderr)
        elif text.startswith("/image"):
            parts = text.split(maxsplit=2)
            if len(parts) < 2:
                print("mmf_imgtune_chat: usage: /image PATH [BOXES_JSON]", file=sys.stderr)
                continue
            try:
                boxes = parts[2] if len(parts) > 2 else args.boxes
                session.set_image(image_batch(run, parts[1], region_request(args, boxes)))
            except InferenceError as error:  # a bad path: say so and keep the session
                print(f"mmf_imgtune_chat: error: {error}", file=sys.stderr)
                continue
            print(f"mmf_imgtune_chat: new conversation about {parts[1]}", file=sys.stderr)
        else:

            def stream(piece: str) -> None:
                out.write(piece)
                out.flush()

            try:
                session.ask(text, on_text=stream)
            except ValueError as error:  # e.g. the history outgrew the LLM's positions
                print(f"mmf_imgtune_chat: error: {error}", file=sys.stderr)
                session.messages.pop()  # the unanswered question leaves the history
                continue
            out.write("\n")
            out.flush()
            answers += 1
    return answers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        with torch.no_grad():
            converse(args, sys.stdin, sys.stdout)
    except InferenceError as error:
        print(f"mmf_imgtune_chat: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
