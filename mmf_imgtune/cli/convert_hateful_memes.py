"""``mmf_imgtune_convert_hm`` (and MMF's ``mmf_convert_hm``): the Hateful Memes zip into MMF's
data layout (``mmf_imgtune.data.converters.hateful_memes``).

    python -m mmf_imgtune.cli.convert_hateful_memes --zip_files hateful_memes.zip \
        [more.zip ...] [--data_dir ./data] [--password_file FILE]
"""

from __future__ import annotations

import argparse
import os
import sys

from mmf_imgtune.data.converters.hateful_memes import convert, read_password


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Hateful Memes zip -> MMF's data layout")
    parser.add_argument("--zip_files", nargs="+", required=True, help="downloaded zip(s)")
    parser.add_argument("--data_dir", default=os.environ.get("MMF_DATA_DIR", "./data"),
                        help="env.data_dir (default: $MMF_DATA_DIR or ./data)")  # fmt: skip
    parser.add_argument("--password_file", help="file holding the zip password (not stored)")
    args = parser.parse_args(argv)
    try:
        convert(args.zip_files, args.data_dir, read_password(args.password_file))
    except (FileNotFoundError, PermissionError) as error:
        print(f"convert_hateful_memes: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
