"""Start a server app on uvicorn for a command (``mmf_imgtune_serve``, ``mmf_imgtune_chat_web``):
one place that turns a failed model load into a one-line error and exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from mmf_imgtune.errors import MMFImgtuneError


def run_app(build: Callable[[], Any], host: str, port: int, prog: str, banner: str) -> int:
    """Build the app (loads the model), print ``banner``, serve until stopped.

    Returns:
        the exit code: 0 when stopped, 2 when the model or its files cannot be loaded.
    """
    import uvicorn  # here: the commands' --help answers without loading the server stack

    try:
        app = build()
    except (MMFImgtuneError, FileNotFoundError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"{prog}: {banner}", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
