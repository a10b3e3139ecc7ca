"""The OpenAI-compatible HTTP API of an ImgTune export (FastAPI; ``mmf_imgtune_serve``).

Routes: ``POST /v1/chat/completions`` (``openai_request.py`` says what it accepts; ``stream``
answers server-sent events of ``chat.completion.chunk`` objects ending with ``[DONE]``),
``GET /v1/models``, ``GET /health`` (queue depth, requests decoding, batches so far),
``GET /`` (the chat page, ``cli/chat_page.html``) and ``POST /v1/attention`` (an extension
for that page: the region-attention PNG of the last assistant answer of ``messages``).
Every error is ``{"error": {"message", "type", "param", "code"}}`` with a 4xx naming the
field, 503 with ``Retry-After`` when the queue is full, 500 when decoding fails; the process
keeps serving after any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mmf_imgtune.inference.pipeline import Pipeline
from mmf_imgtune.inference.raw_image import InputError
from mmf_imgtune.inference.server.batcher import Batcher, Job, QueueFull
from mmf_imgtune.inference.server.openai_request import ApiError, ChatRequest, parse_request

PAGE = Path(__file__).resolve().parents[2] / "cli" / "chat_page.html"


@dataclass
class ServeOptions:
    """How the server answers (``mmf_imgtune_serve`` flags)."""

    max_batch: int = 8  # requests decoded together (1: no batching)
    max_queue: int = 64  # requests waiting before 503
    wait_ms: float = 5.0  # how long a request waits for others to share its batch
    max_image_bytes: int = 20 * 1024 * 1024  # largest image accepted
    max_body_bytes: int = 32 * 1024 * 1024  # largest request body
    allow_folder: Path | None = None  # image file paths allowed inside this folder only
    retry_after_s: int = 1  # Retry-After of a 503


def _error(error: ApiError, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _field(error: InputError, request: ChatRequest) -> ApiError:
    """A pipeline input error under the request's own field names."""
    param = {"image": f"{request.image_param}.url", "boxes": f"{request.image_param}.boxes",
             "objects": f"{request.image_param}.objects"}.get(error.field, error.field)  # fmt: skip
    code = "context_length_exceeded" if error.field in ("max_tokens", "messages") else None
    return ApiError(400, param, error.message, code or "invalid_value")


def _prepare(pipe: Pipeline, request: ChatRequest) -> tuple[Any, int]:
    """(sample, max_tokens) of a request; InputError names the field."""
    sample = pipe.prepare(request.image, request.messages, request.boxes, request.objects)
    max_tokens = request.max_tokens or int(pipe.model.config.generation.max_new_tokens)
    pipe.check_context(len(sample.ids), max_tokens, "max_tokens")
    return sample, max_tokens


def create_app(pipe: Pipeline, options: ServeOptions | None = None) -> FastAPI:
    options = options or ServeOptions()
    folder = options.allow_folder.resolve() if options.allow_folder else None
    batcher = Batcher(pipe, options.max_batch, options.max_queue, options.wait_ms)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        batcher.close()  # the decoding thread ends with the server

    app = FastAPI(title="mmf_imgtune", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.batcher, app.state.pipe = batcher, pipe
    created = int(time.time())

    async def read(request: Request, last_role: str = "user") -> ChatRequest:
        length = int(request.headers.get("content-length") or 0)
        if length > options.max_body_bytes:
            raise ApiError(413, None, f"the body is larger than {options.max_body_bytes} bytes",
                           "body_too_large")  # fmt: skip
        try:
            body = json.loads(await request.body())
        except ValueError as error:
            raise ApiError(400, None, f"the body is not JSON ({error})") from None
        return parse_request(body, pipe.name, options.max_image_bytes, folder, last_role)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error(error)

    @app.exception_handler(Exception)
    async def server_error(_: Request, error: Exception) -> JSONResponse:
        return _error(ApiError(500, None, f"{type(error).__name__}: {error}", "server_error"))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": pipe.name, "queued": batcher.queue.qsize(),
                "decoding": batcher.running, "batches": batcher.batches}  # fmt: skip

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": pipe.name, "object": "model",
                                            "created": created, "owned_by": "mmf_imgtune"}]}  # fmt: skip

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        chat_request = await read(request)
        try:
            sample, max_tokens = await run_in_threadpool(_prepare, pipe, chat_request)
        except InputError as error:
            raise _field(error, chat_request) from None
        loop = asyncio.get_running_loop()
        job = Job(sample, max_tokens, chat_request.temperature, chat_request.seed, loop,
                  asyncio.Queue() if chat_request.stream else None)  # fmt: skip
        try:
            batcher.submit(job)
        except QueueFull as error:
            busy = ApiError(503, None, f"the server is busy ({error}); retry", "server_busy")
            return _error(busy, {"Retry-After": str(options.retry_after_s)})
        ident, prompt_tokens = f"chatcmpl-{uuid.uuid4().hex}", len(sample.ids)
        if chat_request.stream:
            return StreamingResponse(_events(job, ident, pipe.name), media_type="text/event-stream")
        result = await job.done
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": int(time.time()),
            "model": pipe.name,
            "choices": [{"index": 0, "finish_reason": result["finish_reason"],
                         "message": {"role": "assistant", "content": result["text"]}}],
            "usage": {"prompt_tokens": prompt_tokens,
                      "completion_tokens": result["completion_tokens"],
                      "total_tokens": prompt_tokens + result["completion_tokens"]},
        })  # fmt: skip

    @app.post("/v1/attention")
    async def attention(request: Request) -> Response:
        chat_request = await read(request, last_role="assistant")
        try:
            png = await run_in_threadpool(pipe.attention_png, chat_request.image,
                                          chat_request.messages, chat_request.boxes,
                                          chat_request.objects)  # fmt: skip
        except InputError as error:
            raise _field(error, chat_request) from None
        return Response(png, media_type="image/png")

    return app


async def _events(job: Job, ident: str, model: str):
    """Server-sent events of one streamed answer."""

    def chunk(delta: dict, finish: str | None = None) -> str:
        value = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                 "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
        return f"data: {json.dumps(value)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    while (piece := await job.pieces.get()) is not None:
        yield chunk({"content": piece})
    try:
        result = await job.done
    except Exception as error:  # decoding failed after the stream started: say so, in-band
        failure = ApiError(500, None, f"{type(error).__name__}: {error}", "server_error")
        yield f"data: {json.dumps(failure.body())}\n\n"
        return
    yield chunk({}, result["finish_reason"])
    yield "data: [DONE]\n\n"
