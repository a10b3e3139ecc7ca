"""Save a region-attention PNG for one example of a finished run (``make demo``'s last step).

    python -m mmf_imgtune.cli.explain RUN_DIR [--split test] [--index 0] [--out PNG]

The run's ``best.ckpt`` (else ``current.ckpt``) answers the example and the answer's
attention over the regions is drawn (``mmf_imgtune.inference.explain``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from mmf_imgtune.inference.explain import explain_split_example


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Save a region-attention PNG for one example.")
    parser.add_argument("run_dir", help="a finished run's env.save_dir (config.yaml + checkpoints)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--out", help="PNG path (default: <run_dir>/explanation.png)")
    args = parser.parse_args(argv)
    out = args.out or str(Path(args.run_dir) / "explanation.png")
    result = explain_split_example(args.run_dir, args.split, args.index, out)
    weights = ", ".join(f"{w:.2f}" for w in result["weights"])
    print(f"{result['question']} -> {result['answer']}  (region weights {weights})")
    print(f"explanation: {result['path']}")


if __name__ == "__main__":
    main()
