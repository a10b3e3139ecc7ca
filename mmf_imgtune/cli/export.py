"""``mmf_imgtune_export``: a finished ImgTune run as a self-contained Hugging Face-style folder.

    mmf_imgtune_export RUN_DIR|CHECKPOINT --out DIR [--merge-lora]

Writes config.json, model.safetensors, the tokenizer files, processor_config.json,
regions.json (how the training regions were made), a model card README.md, and the LLM alone
as DIR/lm (a plain Hugging Face folder; LoRA merged with --merge-lora) or DIR/lm_adapter (a
PEFT adapter folder, LoRA unmerged). Load it with ``mmf_imgtune.ImgTune.from_pretrained(DIR)``
or ``mmf_imgtune.pipeline(DIR)``; serve it with ``mmf_imgtune_serve DIR``. See
docs/serving.md. Exit codes: 0 success, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mmf_imgtune.errors import MMFImgtuneError


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run", help="the run's env.save_dir, or one of its checkpoints")
    parser.add_argument("--out", required=True, help="the folder to write (created)")
    parser.add_argument(
        "--merge-lora",
        action="store_true",
        help="merge the LoRA adapters into the LLM (DIR/lm loads with AutoModelForCausalLM)",
    )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # lazy: --help answers without loading torch and the runtime
    from mmf_imgtune.inference.export import export_run

    try:
        out = export_run(args.run, args.out, merge_lora=args.merge_lora)
    except MMFImgtuneError as error:
        print(f"mmf_imgtune_export: error: {error}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
