"""Run the server's app on uvicorn: in the foreground (``mmf_imgtune_serve``) or on a thread
(tests, ``benchmarks/serve_load.py``)."""

from __future__ import annotations

import threading
import time

import uvicorn


class BackgroundServer:
    """uvicorn serving ``app`` on a daemon thread; ``port=0`` picks a free port.

    Attributes:
        url: ``http://host:port`` once started.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 60):
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {host}:{port}")
            time.sleep(0.02)
        bound = self.server.servers[0].sockets[0].getsockname()
        self.url = f"http://{bound[0]}:{bound[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
