"""``mmf_imgtune_chat_web``: the JSON API, then the page in a real headless Chromium (load,
upload, ask, read the answer and its region-attention picture)."""

import json
import threading
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
from headless_browser import chromium, run_in_browser

from mmf_imgtune.cli.chat_web import parse_args, serve

pytestmark = pytest.mark.slow  # shares the tiny dialogue run of conftest.py
QUESTION = "what colour is the circle?"


@pytest.fixture(scope="module")
def server(dialogue_run):
    checkpoint, _ = dialogue_run
    started = threading.Event()
    holder = {}

    def ready(server):
        holder["server"] = server
        started.set()

    args = parse_args(["--checkpoint", str(checkpoint), "--port", "0", "--max-new-tokens", "3"])
    thread = threading.Thread(target=serve, args=(args, ready), daemon=True)
    thread.start()
    assert started.wait(120), "the server did not start"
    host, port = holder["server"].server_address[:2]
    yield f"http://{host}:{port}"
    holder["server"].shutdown()


def post(url, body=b"", kind="application/json"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_api_answers_with_an_attention_picture(server, dialogue_run):
    _, [(image, boxes), _] = dialogue_run
    status, value = post(f"{server}/api/ask", json.dumps({"text": QUESTION}).encode())
    assert status == 400 and "upload an image first" in value["error"]
    status, value = post(f"{server}/api/image?boxes={quote(boxes)}", b"not an image", "image/png")
    assert status == 400 and "not an image" in value["error"]
    with open(image, "rb") as handle:
        status, value = post(f"{server}/api/image?boxes={quote(boxes)}", handle.read(), "image/png")
    assert status == 200 and value["regions"] == len(json.loads(boxes))
    status, value = post(f"{server}/api/ask", json.dumps({"text": QUESTION}).encode())
    assert status == 200 and isinstance(value["answer"], str)
    weights = value["weights"]["weights"]
    assert len(weights) == len(json.loads(boxes)) and abs(sum(weights) - 1) < 1e-4
    with urllib.request.urlopen(server + value["attention"], timeout=60) as response:
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    assert post(f"{server}/api/reset")[0] == 200


@pytest.mark.skipif(chromium() is None, reason="no chromium on PATH (apt-get install chromium)")
def test_page_in_headless_chromium_uploads_asks_and_shows_the_answer(server, dialogue_run,
                                                                     tmp_path):  # fmt: skip
    pytest.importorskip("aiohttp", reason="the DevTools client uses aiohttp's websockets")
    _, [(image, boxes), _] = dialogue_run
    with open(image, "rb") as handle:  # the reference: the same first question over the API
        post(f"{server}/api/image?boxes={quote(boxes)}", handle.read(), "image/png")
    expected = post(f"{server}/api/ask", json.dumps({"text": QUESTION}).encode())[1]["answer"]

    async def script(page):
        await page.call("Page.navigate", url=server + "/")
        await page.wait_for("document.readyState === 'complete' && !!document.getElementById"
                            "('image-file')")  # fmt: skip
        await page.js(f"document.getElementById('boxes').value = {json.dumps(boxes)}")
        await page.set_file("#image-file", image)
        await page.wait_for("document.body.dataset.image === 'ready'")
        await page.js(f"document.getElementById('question').value = {json.dumps(QUESTION)};"
                      "document.getElementById('send').click()")  # fmt: skip
        await page.wait_for("document.querySelectorAll('#log .assistant').length === 1")
        await page.wait_for("document.getElementById('attention').naturalWidth > 0")
        return await page.js("({answer: document.querySelector('#log .assistant').textContent,"
                             " user: document.querySelector('#log .user').textContent,"
                             " status: document.getElementById('status').textContent})")  # fmt: skip

    seen = run_in_browser(tmp_path / "profile", script)
    assert seen["user"] == QUESTION and seen["answer"] == expected
    assert not seen["status"].startswith("Error"), seen["status"]
