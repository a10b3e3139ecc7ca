"""Moved to ``mmf_imgtune.io.features`` (the bottom layer ``data`` and ``regions`` share).

This name stays an alias of that package (the same module object) for plugins and code
written before the move; new code imports ``mmf_imgtune.io.features``.
"""

import sys

from mmf_imgtune.io import features

sys.modules[__name__] = features
