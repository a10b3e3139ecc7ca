"""Drive a real headless Chromium (Debian's ``chromium``) over the DevTools protocol, with
aiohttp's websocket client: enough to load a page, set a file input, run script, poll."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--remote-debugging-port=0"]  # fmt: skip


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    def __init__(self, ws):
        self.ws, self.ids = ws, itertools.count(1)

    async def call(self, method: str, **params):
        ident = next(self.ids)
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:  # events arrive in between; skip them
            message = json.loads((await self.ws.receive(timeout=60)).data)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def js(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                                 returnByValue=True)  # fmt: skip
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the page never made `{expression}` true in {timeout:.0f} s")

    async def set_file(self, selector: str, path: str) -> None:
        root = (await self.call("DOM.getDocument"))["root"]["nodeId"]
        node = (await self.call("DOM.querySelector", nodeId=root, selector=selector))["nodeId"]
        await self.call("DOM.setFileInputFiles", files=[path], nodeId=node)


async def _session(profile: Path, script):
    import aiohttp

    process = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = await response.json()
            url = next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
            async with http.ws_connect(url, max_msg_size=0) as ws:
                return await script(Page(ws))
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_in_browser(profile: Path, script):
    """Run ``await script(page)`` against a fresh headless Chromium; returns its result."""
    return asyncio.run(_session(profile, script))
