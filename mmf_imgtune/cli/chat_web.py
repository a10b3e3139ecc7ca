"""``mmf_imgtune_chat_web``: a local web page to chat about an uploaded image.

    mmf_imgtune_chat_web --checkpoint save/current.ckpt [--config save/config.yaml]
        [--grid K | --detect] [--host 127.0.0.1] [--port 7860] [--max-new-tokens N]

Python's own ``http.server`` (no Gradio needed, nothing fetched from the network; the page
is one HTML file with a few lines of script): upload an image (with its boxes as JSON, or
the training store's grid/detector), ask, read the answer, see the region-attention picture
of the last answer (``inference/chat_explain.py``). One conversation, kept with its KV
cache like ``mmf_imgtune_chat``'s, for one local user. JSON API: ``POST /api/image`` (body:
the image file; ``?boxes=[[x1, y1, x2, y2], ...]``), ``POST /api/ask`` (``{"text"}`` ->
``{"answer", "attention"}``), ``POST /api/reset``, ``GET /api/attention.png``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import torch
from PIL import Image

from mmf_imgtune.inference.chat import ChatSession
from mmf_imgtune.inference.chat_explain import draw_last_answer
from mmf_imgtune.inference.inputs import RegionRequest, image_batch
from mmf_imgtune.inference.runs import InferenceError, chat_renderer, open_generating_run

PAGE = (Path(__file__).with_name("chat_page.html")).read_text(encoding="utf-8")
MAX_UPLOAD = 20 * 1024 * 1024  # bytes


class ChatApp:
    """The model, its chat session and the files of the current image (one user)."""

    def __init__(self, args: argparse.Namespace):
        run = open_generating_run(args.checkpoint, args.device, args.config)
        self.args, self.run, self.config, self.model = args, run, run.config, run.model
        # Answers keep the fast attention kernel; the attention picture's one re-read switches
        # to eager by itself (lm.attention_kernel, through run_lm(attentions=True)).
        self.session = ChatSession(self.model, chat_renderer(self.config), args.max_new_tokens)
        self.folder = Path(tempfile.mkdtemp(prefix="mmf_imgtune_chat_web_"))
        self.batch = self.pixels = None
        self.turn = 0
        self.lock = threading.Lock()  # one request at a time talks to the model

    def set_image(self, data: bytes, boxes: str | None) -> dict:
        path = self.folder / "image.png"
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.convert("RGB").save(path)
        except (OSError, SyntaxError, ValueError) as error:
            raise InferenceError(f"the upload is not an image ({error})") from None
        request = RegionRequest(boxes or None, grid=self.args.grid, detect=self.args.detect)
        self.batch = image_batch(self.run, str(path), request)
        self.session.set_image(self.batch)
        with Image.open(path) as image:
            self.pixels = np.asarray(image.convert("RGB"))
        return {"ok": True, "regions": int(self.batch["image_info_0"]["num_boxes"][0])}

    def ask(self, text: str) -> dict:
        if self.batch is None:
            raise InferenceError("upload an image first")
        answer = self.session.ask(text)
        self.turn += 1
        result: dict[str, Any] = {"answer": answer, "attention": None}
        try:
            out = self.folder / "attention.png"
            result["weights"] = draw_last_answer(self.session, self.batch, self.pixels, str(out))
            result["attention"] = f"/api/attention.png?turn={self.turn}"
        except RuntimeError as error:  # no attention weights from this LLM: answer anyway
            result["note"] = str(error)
        return result


def make_handler(app: ChatApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
            print(f"mmf_imgtune_chat_web: {format % args}", file=sys.stderr)

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: dict) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = urlparse(self.path).path
            picture = app.folder / "attention.png"
            if path == "/":
                self._send(200, PAGE.encode(), "text/html; charset=utf-8")
            elif path == "/api/attention.png" and picture.is_file():
                self._send(200, picture.read_bytes(), "image/png")
            else:
                self._json(404, {"error": f"no such page: {path}"})

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_UPLOAD:
                self._json(413, {"error": f"uploads are limited to {MAX_UPLOAD} bytes"})
                return
            body = self.rfile.read(length)
            try:
                with app.lock, torch.no_grad():
                    if url.path == "/api/image":
                        boxes = (parse_qs(url.query).get("boxes") or [None])[0]
                        self._json(200, app.set_image(body, boxes))
                    elif url.path == "/api/ask":
                        text = str(json.loads(body or b"{}").get("text", "")).strip()
                        if not text:
                            raise InferenceError("ask something: the message is empty")
                        self._json(200, app.ask(text))
                    elif url.path == "/api/reset":
                        app.session.reset()
                        self._json(200, {"ok": True})
                    else:
                        self._json(404, {"error": f"no such endpoint: {url.path}"})
            except (InferenceError, ValueError) as error:
                self._json(400, {"error": str(error)})

    return Handler


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_chat_web", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--checkpoint", required=True, help="current.ckpt / best.ckpt")
    parser.add_argument("--config", help="the run's config.yaml (default: next to the checkpoint)")
    regions = parser.add_mutually_exclusive_group()
    regions.add_argument("--grid", type=int, help="regions without given boxes: K x K grid")
    regions.add_argument("--detect", action="store_true", help="regions: the store's detector")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (local only)")
    parser.add_argument("--port", type=int, default=7860, help="0: any free port")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="longest answer")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    return parser.parse_args(list(argv))


def serve(args: argparse.Namespace, ready: Any = None) -> None:
    """Serve until interrupted; ``ready(server)`` is called once listening (tests)."""
    server = ThreadingHTTPServer((args.host, args.port), make_handler(ChatApp(args)))
    host, port = server.server_address[:2]
    print(f"mmf_imgtune_chat_web: open http://{host}:{port}/", file=sys.stderr, flush=True)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        serve(args)
    except InferenceError as error:
        print(f"mmf_imgtune_chat_web: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
