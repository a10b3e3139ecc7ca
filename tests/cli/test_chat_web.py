"""``mmf_imgtune_chat_web``: the page on the OpenAI-compatible server, over its API (stream,
attention picture, named errors), then in a real headless Chromium (load, upload, ask, read
the streamed answer and its region-attention picture)."""

import base64
import json

import httpx
import pytest
from headless_browser import chromium, run_in_browser

from mmf_imgtune.cli.chat_web import build_app, parse_args
from mmf_imgtune.inference.server.background import BackgroundServer

pytestmark = pytest.mark.slow  # shares the tiny dialogue run of conftest.py
QUESTION = "what colour is the circle?"


@pytest.fixture(scope="module")
def server(dialogue_run):
    checkpoint, _ = dialogue_run
    with BackgroundServer(build_app(parse_args(["--checkpoint", str(checkpoint)]))) as running:
        yield running.url


def conversation(image, boxes, *turns):
    with open(image, "rb") as handle:
        url = "data:image/png;base64," + base64.b64encode(handle.read()).decode()
    part = {"type": "image_url", "image_url": {"url": url, "boxes": json.loads(boxes)}}
    messages = [{"role": role, "content": text} for role, text in turns]
    messages[0]["content"] = [part, {"type": "text", "text": messages[0]["content"]}]
    return {"messages": messages}


def test_page_api_streams_answers_and_draws_attention(server, dialogue_run):
    _, [(image, boxes), _] = dialogue_run
    page = httpx.get(server + "/", timeout=60)
    assert page.status_code == 200 and "/v1/chat/completions" in page.text
    body = conversation(image, boxes, ("user", QUESTION))
    answer = httpx.post(server + "/v1/chat/completions", json=body, timeout=120).json()
    text = answer["choices"][0]["message"]["content"]
    with httpx.stream("POST", server + "/v1/chat/completions", json={**body, "stream": True},
                      timeout=120) as streamed:  # fmt: skip
        events = [line[6:] for line in streamed.iter_lines() if line]
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1]]
    assert "".join(pieces) == text
    # A second turn refers to the first (dialogue exports take whole conversations).
    follow = conversation(image, boxes, ("user", QUESTION), ("assistant", text),
                          ("user", "and how many objects share that colour?"))  # fmt: skip
    second = httpx.post(server + "/v1/chat/completions", json=follow, timeout=120)
    assert second.status_code == 200
    picture = httpx.post(
        server + "/v1/attention",
        json=conversation(image, boxes, ("user", QUESTION), ("assistant", text)),
        timeout=120,
    )
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    bad = conversation(image, boxes, ("user", QUESTION))
    bad["messages"][0]["content"][0]["image_url"]["url"] = "data:image/png;base64,bm90IGFuIGltYWdl"
    error = httpx.post(server + "/v1/chat/completions", json=bad, timeout=60)
    assert error.status_code == 400
    assert error.json()["error"]["param"] == "messages[0].content[0].image_url.url"
    assert "not an image" in error.json()["error"]["message"]


@pytest.mark.skipif(chromium() is None, reason="no chromium on PATH (apt-get install chromium)")
def test_page_in_headless_chromium_uploads_asks_and_shows_the_answer(server, dialogue_run,
                                                                     tmp_path):  # fmt: skip
    pytest.importorskip("aiohttp", reason="the DevTools client uses aiohttp's websockets")
    _, [(image, boxes), _] = dialogue_run
    body = conversation(image, boxes, ("user", QUESTION))  # the reference: the same question
    reply = httpx.post(server + "/v1/chat/completions", json=body, timeout=120).json()
    expected = reply["choices"][0]["message"]["content"]

    async def script(page):
        await page.call("Page.navigate", url=server + "/")
        await page.wait_for("document.readyState === 'complete' && !!document.getElementById"
                            "('image-file')")  # fmt: skip
        await page.js(f"document.getElementById('boxes').value = {json.dumps(boxes)}")
        await page.set_file("#image-file", image)
        await page.wait_for("document.body.dataset.image === 'ready'")
        await page.js(f"document.getElementById('question').value = {json.dumps(QUESTION)};"
                      "document.getElementById('send').click()")  # fmt: skip
        await page.wait_for("document.getElementById('attention').naturalWidth > 0")
        return await page.js("({answer: document.querySelector('#log .assistant').textContent,"
                             " user: document.querySelector('#log .user').textContent,"
                             " status: document.getElementById('status').textContent})")  # fmt: skip

    seen = run_in_browser(tmp_path / "profile", script)
    assert seen["user"] == QUESTION and seen["answer"] == expected
    assert not seen["status"].startswith(("Error", "No attention")), seen["status"]
