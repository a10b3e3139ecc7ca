"""``mmf_imgtune_consolidate``: a sharded FSDP checkpoint folder -> one checkpoint file.

    mmf_imgtune_consolidate save/current.ckpt save/model.ckpt

``training.strategy=fsdp`` writes each checkpoint as a folder of per-rank shards. Resume (``checkpoint.resume=true``) reads the
folder as it is; this command writes the single file that ``mmf_predict``,
``checkpoint.resume_pretrained`` and ``mmf_imgtune_generate`` read (``mmf_predict`` also
accepts the folder and consolidates it in memory). Runs in one process, no GPU needed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mmf_imgtune.errors import MMFImgtuneError


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_consolidate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("folder", help="a sharded checkpoint folder (e.g. save/current.ckpt)")
    parser.add_argument("output", help="the checkpoint file to write")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    # lazy: Lightning loads after argument parsing (fast --help)
    from mmf_imgtune.trainer.checkpoint_io import consolidate, save_checkpoint_file

    try:
        checkpoint = consolidate(args.folder)
    except MMFImgtuneError as error:
        parser.exit(1, f"mmf_imgtune_consolidate: error: {error}\n")
    output = Path(args.output)
    save_checkpoint_file(checkpoint, output)
    count = sum(t.numel() for t in checkpoint["state_dict"].values())
    print(
        f"wrote {output}: {len(checkpoint['state_dict'])} tensors, {count:,} values, "
        f"update {checkpoint.get('global_step', 0)}"
    )


if __name__ == "__main__":
    main()
