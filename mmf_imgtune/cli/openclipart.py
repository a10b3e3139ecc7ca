"""``mmf_imgtune_openclipart``: Debian's public-domain clip art with its authors' titles and the
library's categories as image_text_jsonl folders (``mmf_imgtune.data.converters.openclipart``).

    mmf_imgtune_openclipart --out data/openclipart [--cache ~/.cache/mmf_imgtune/apt]
    mmf_imgtune_openclipart --out data/openclipart --png PNG_DIR --svg SVG_DIR
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from mmf_imgtune.data.converters.openclipart import MAX_PIXELS, fetch_and_convert


def run(argv: Sequence[str] | None = None) -> dict:
    """The command line; returns the counts ``convert`` returns."""
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_openclipart", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="folder to write (images/, caption/, ...)")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/mmf_imgtune/apt"),
                        help="where the .deb files are downloaded and unpacked (reused)")  # fmt: skip
    parser.add_argument("--png", help="an unpacked usr/share/openclipart/png (skips apt-get)")
    parser.add_argument("--svg", help="an unpacked usr/share/openclipart/svg (skips apt-get)")
    parser.add_argument("--max-per-category", type=int, default=150)
    parser.add_argument("--min-per-class", type=int, default=35)
    parser.add_argument("--max-side", type=int, default=384, help="longest image side, pixels")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                        help="leave out PNGs with more pixels (a few are GBs to decode)")  # fmt: skip
    args = parser.parse_args(argv)
    if bool(args.png) != bool(args.svg):
        parser.error("give both --png and --svg, or neither (apt-get downloads them)")
    counts = fetch_and_convert(
        Path(args.out),
        Path(args.cache),
        Path(args.png) if args.png else None,
        Path(args.svg) if args.svg else None,
        args.max_per_category,
        args.min_per_class,
        args.max_side,
        args.max_pixels,
    )
    print(f"openclipart: wrote {args.out}: {json.dumps(counts)}")
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """Console script ``mmf_imgtune_openclipart``."""
    run(argv)


if __name__ == "__main__":
    main()
