"""Generate the ``shapes`` data set (and its region features) without a training run.

    python -m mmf_imgtune.cli.shapes [--splits train,val,test] [--no-features] \
        [env.data_dir=DIR] [dataset_config.shapes.<key>=<value> ...]

Same config as ``mmf_run ... dataset=shapes`` (runtime defaults + the shapes yaml + dotted
overrides, checked the same way), same builder: files already generated with the same settings
are kept. Prints per split the images, questions, statements and captions written and the
seconds spent generating and extracting.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch
from omegaconf import DictConfig, OmegaConf

from mmf_imgtune.config.checks import check_override
from mmf_imgtune.config.loader import DEFAULTS, load_yaml, resolve_path
from mmf_imgtune.data.builders.shapes import ShapesBuilder
from mmf_imgtune.data.shapes.generate import load_split


def shapes_config(overrides: Sequence[str]) -> DictConfig:
    """The resolved ``dataset_config.shapes`` node after ``overrides`` (``a.b=c`` strings)."""

    config = OmegaConf.merge(
        load_yaml(DEFAULTS), load_yaml(resolve_path(ShapesBuilder.config_path()))
    )
    for override in overrides:
        if "=" not in override:
            raise SystemExit(f"argument {override!r} is not key=value (e.g. env.data_dir=./data)")
        key, value = override.split("=", 1)
        check_override(config, key, value)
        config = OmegaConf.merge(config, OmegaConf.from_dotlist([override]))
    OmegaConf.resolve(config)
    return config.dataset_config.shapes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mmf_imgtune.cli.shapes",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--splits", default="train,val,test", help="comma-separated splits")
    parser.add_argument("--no-features", action="store_true", help="skip region features")
    parser.add_argument("overrides", nargs="*", help="dotted config overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))

    config = shapes_config(args.overrides)
    if args.no_features:
        config.use_features = False
    builder = ShapesBuilder()
    for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
        start = time.perf_counter()
        builder.build(config, split)
        records = load_split(str(config.data_dir), split)
        count = {key: sum(len(r[key]) for r in records)
                 for key in ("questions", "statements", "captions")}  # fmt: skip
        print(
            f"{split}: {len(records)} images, {count['questions']} questions, "
            f"{count['statements']} statements, {count['captions']} captions in "
            f"{config.data_dir} ({time.perf_counter() - start:.1f} s)"
        )


if __name__ == "__main__":
    main()
