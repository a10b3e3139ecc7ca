"""Moved to ``mmf_imgtune.io.annotations`` (the bottom layer ``data`` and ``regions`` share).

This name stays an alias of that module (the same module object) for plugins and code
written before the move; new code imports ``mmf_imgtune.io.annotations``.
"""

import sys

from mmf_imgtune.io import annotations

sys.modules[__name__] = annotations
