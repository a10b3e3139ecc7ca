"""An OpenAI chat-completions request body -> what the pipeline needs, or an ``ApiError`` that
names the field (``param``, in OpenAI's error format).

Accepted (``POST /v1/chat/completions``): ``model``, ``messages`` (roles system / user /
assistant; ``content`` a string or a list of ``{"type": "text", "text"}`` and
``{"type": "image_url", "image_url": {"url"}}`` parts; exactly one image per conversation, as
ImgTune sees one), ``max_tokens`` (or ``max_completion_tokens``), ``temperature`` (0: greedy;
> 0: sampling), ``seed``, ``stream``, ``n`` (1 only), ``top_p`` (1 only). An image is a data
URL (``data:image/png;base64,...``), or a file path / ``file://`` URL inside the folder the
server was started with ``--allow-folder``. Extensions of ``image_url``: ``boxes``
(``[[x1, y1, x2, y2], ...]`` pixel boxes) and ``objects`` (one class id per box), for models
trained on given boxes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmf_imgtune.inference.raw_image import data_url_bytes

ROLES = ("system", "user", "assistant")


class ApiError(Exception):
    """An answer other than 200: ``status``, the field (``param``), a message, a code."""

    def __init__(self, status: int, param: str | None, message: str, code: str = "invalid_value"):
        super().__init__(message)
        self.status, self.param, self.message, self.code = status, param, message, code

    def body(self) -> dict:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param,
                          "code": self.code}}  # fmt: skip


@dataclass
class ChatRequest:
    """What one request asks for (validated)."""

    messages: list[dict]  # {"role", "content": str}, the image's place left to the renderer
    image: bytes | str  # encoded bytes, or a file path inside the allowed folder
    image_param: str  # the field naming the image, for errors
    boxes: Any = None
    objects: Any = None
    max_tokens: int | None = None
    temperature: float = 0.0
    seed: int | None = None
    stream: bool = False
    extras: dict = field(default_factory=dict)


def _number(body: dict, key: str, kind: type, low: float, high: float | None = None) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not float(value).is_integer())
    ):
        raise ApiError(400, key, f"{key} must be a {kind.__name__}, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ApiError(400, key, f"{key}={value} must be {bounds}")
    return kind(value)


def _image(part: dict, param: str, max_bytes: int, folder: Path | None) -> bytes | str:
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str) or not url:
        raise ApiError(400, f"{param}.url", "image_url.url must be a data URL string")
    if url.startswith("data:"):
        if len(url) * 3 // 4 > max_bytes:
            raise ApiError(413, f"{param}.url", f"the image is larger than {max_bytes} bytes",
                           "image_too_large")  # fmt: skip
        try:
            return data_url_bytes(url, f"{param}.url")
        except ValueError as error:
            raise ApiError(400, f"{param}.url", str(error)) from None
    if url.startswith(("http://", "https://")):
        raise ApiError(400, f"{param}.url", "remote URLs are not fetched; send a base64 data URL")
    if folder is None:
        raise ApiError(400, f"{param}.url", "file paths are refused; send a base64 data URL "
                       "(or start the server with --allow-folder DIR)")  # fmt: skip
    path = Path(url.removeprefix("file://")).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise ApiError(400, f"{param}.url", f"{url} is not a file inside the allowed folder")
    if os.path.getsize(path) > max_bytes:
        raise ApiError(413, f"{param}.url", f"{url} is larger than {max_bytes} bytes",
                       "image_too_large")  # fmt: skip
    return str(path)


def parse_request(
    body: Any, model_name: str, max_bytes: int, folder: Path | None, last_role: str = "user"
) -> ChatRequest:
    """Validate a request body; raises ``ApiError`` naming the first bad field.

    ``last_role``: whose message ends the conversation (the user's, to be answered; the
    assistant's, to be explained by ``/v1/attention``)."""
    if not isinstance(body, dict):
        raise ApiError(400, None, "the body must be a JSON object")
    if body.get("model") not in (None, model_name):
        raise ApiError(404, "model", f"unknown model {body.get('model')!r}; this server serves "
                       f"{model_name!r} (GET /v1/models)", "model_not_found")  # fmt: skip
    _number(body, "n", int, 1, 1)  # one choice per request
    _number(body, "top_p", float, 1, 1)  # no nucleus sampling: only the default 1
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages", "messages must be a non-empty list")
    texts, image = [], None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}].role", f"role must be one of {ROLES}")
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise ApiError(400, f"messages[{i}].content", "content must be a string or a list")
        words = []
        for j, part in enumerate(parts):
            param = f"messages[{i}].content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                words.append(part["text"])
            elif kind == "image_url":
                if image is not None:
                    raise ApiError(400, param, "one image per conversation (ImgTune sees one)")
                image = (_image(part, f"{param}.image_url", max_bytes, folder), part, param)
            else:
                raise ApiError(400, f"{param}.type", "parts are {'type': 'text', 'text'} or "
                               "{'type': 'image_url', 'image_url': {'url'}}")  # fmt: skip
        texts.append({"role": message["role"], "content": " ".join(words).strip()})
    if image is None:
        raise ApiError(400, "messages", "no image_url part: ImgTune answers about an image")
    if texts[-1]["role"] != last_role:
        raise ApiError(
            400, f"messages[{len(texts) - 1}].role", f"the last message must be the {last_role}'s"
        )
    data, part, param = image
    spec = part["image_url"] if isinstance(part["image_url"], dict) else {}
    temperature = _number(body, "temperature", float, 0, 2) or 0.0
    max_tokens = _number(body, "max_completion_tokens", int, 1)
    max_tokens = _number(body, "max_tokens", int, 1) if max_tokens is None else max_tokens
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream", "stream must be true or false")
    return ChatRequest(
        messages=texts, image=data, image_param=f"{param}.image_url", boxes=spec.get("boxes"),
        objects=spec.get("objects"), max_tokens=max_tokens, temperature=temperature,
        seed=_number(body, "seed", int, 0), stream=stream,
    )  # fmt: skip
