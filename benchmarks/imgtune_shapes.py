"""ImgTune on shapes VQA: validation accuracy per fusion mode, and a text-only control.

    python benchmarks/imgtune_shapes.py --out results.json
        [--config projects/imgtune/configs/shapes/vqa.yaml] [--modes prefix,cross_attention,both]
        [--max-updates N] [--data-dir DIR] [--save-root DIR] [key=value ...]

Each run is ``mmf_run`` (through ``mmf_imgtune.cli.run.run``) on the project config at its own
budget (the demo's unless ``--max-updates``), once per fusion mode, then once more with the best
mode and ``model_config.imgtune.zero_image_features: true`` (the visual tokens are zeros: the
same model, question text only). The issue's targets: the best mode reaches >= 0.85 VQA
accuracy and beats text-only by >= 30 points. Prints a table and writes
``{"modes": {"prefix": acc, ...}, "text_only": acc, ...}`` to ``--out``.
Exit code 0 when both targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "projects/imgtune/configs/shapes/demo.yaml"  # the demo budget
MODES = ("prefix", "cross_attention", "both")
TARGET_ACCURACY, TARGET_MARGIN = 0.85, 0.30


def val_accuracy(metrics: dict) -> float:
    """The run's validation VQA accuracy (classification or generated answers)."""
    keys = [k for k in metrics if k.startswith("val/") and k.endswith("vqa_accuracy")]
    if not keys:
        raise KeyError(
            f"no val/*vqa_accuracy metric in {sorted(metrics)}; does the config set "
            "evaluation.metrics to [vqa_accuracy] or [generation_vqa_accuracy]?"
        )
    return float(metrics[keys[0]])


def run_once(config: Path, save_dir: Path, overrides: list[str]) -> tuple[float, float]:
    """One mmf_run; returns (val accuracy, wall seconds)."""
    from mmf_imgtune.cli.run import run

    start = time.perf_counter()
    result = run(
        [
            f"config={config}",
            "run_type=train_val",
            f"env.save_dir={save_dir}",
            "training.progress_bar=false",
            *overrides,
        ]
    )
    return val_accuracy(result["metrics"]), time.perf_counter() - start


def text_only_config(config: Path, folder: Path) -> Path:
    """A config that includes ``config`` and zeroes the visual tokens."""
    path = folder / "text_only.yaml"
    path.write_text(
        f"includes: [{config.resolve()}]\n"
        "model_config:\n  imgtune:\n    zero_image_features: true\n"
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--max-updates", type=int, help="override training.max_updates")
    parser.add_argument("--data-dir", help="env.data_dir (default: the config's, ./data)")
    parser.add_argument("--save-root", help="run folders (default: a temporary folder)")
    parser.add_argument("overrides", nargs="*", help="extra mmf_run key=value overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    overrides = list(args.overrides)
    if args.max_updates:
        overrides += [f"training.max_updates={args.max_updates}"]
    if args.data_dir:
        overrides += [f"env.data_dir={args.data_dir}"]
    save_root = Path(args.save_root or tempfile.mkdtemp(prefix="imgtune_shapes_"))
    save_root.mkdir(parents=True, exist_ok=True)
    accuracy, seconds = {}, {}
    for mode in args.modes.split(","):
        accuracy[mode], seconds[mode] = run_once(
            args.config, save_root / mode, [f"model_config.imgtune.fusion={mode}", *overrides]
        )
    best = max(accuracy, key=accuracy.get)
    text_only, seconds["text_only"] = run_once(
        text_only_config(args.config, save_root),
        save_root / "text_only",
        [f"model_config.imgtune.fusion={best}", *overrides],
    )
    passed = accuracy[best] >= TARGET_ACCURACY and accuracy[best] - text_only >= TARGET_MARGIN
    print(f"\nImgTune on shapes VQA ({args.config.name}), validation accuracy")
    print(f"{'run':<30}{'accuracy':>10}{'seconds':>10}")
    for mode, value in accuracy.items():
        print(f"{mode:<30}{value:>10.4f}{seconds[mode]:>10.1f}")
    print(f"{'text_only (' + best + ')':<30}{text_only:>10.4f}{seconds['text_only']:>10.1f}")
    print(
        f"best {best}: {accuracy[best]:.4f}, margin over text-only "
        f"{100 * (accuracy[best] - text_only):.1f} points; targets >= {TARGET_ACCURACY} and "
        f">= {100 * TARGET_MARGIN:.0f} points: {'met' if passed else 'NOT met'}"
    )
    result = {
        "modes": accuracy,
        "text_only": text_only,
        "text_only_fusion": best,
        "seconds": seconds,
        "config": str(args.config),
        "overrides": overrides,
        "targets_met": passed,
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
