"""``mmf_imgtune_bench``: train every model of a suite under one budget, compare, report.

    mmf_imgtune_bench --suite shapes-vqa --out bench/shapes-vqa
    mmf_imgtune_bench --suite my_suite.yaml --out DIR --models concat_bert,imgtune --seeds 1

Each (model, seed) runs ``mmf_run`` in its own process (a crash or out-of-memory in one model
leaves the others running; peak memory is per model). Finished runs are reused when the same
``--out`` is given again, and a run killed half-way continues from its last checkpoint, so an
interrupted suite resumes. Writes ``results.md``,
``results.json`` and ``results.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mmf_imgtune.bench.suite import builtin_suites
from mmf_imgtune.config import build_config


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_bench",
        description="Train and compare models under one budget. Built-in suites: "
        + ", ".join(builtin_suites()),
    )
    parser.add_argument("--suite", required=True, help="built-in suite name or a suite yaml")
    parser.add_argument("--out", required=True, help="output folder (reused runs are skipped)")
    parser.add_argument("--models", help="comma-separated labels: run only these models")
    parser.add_argument("--seeds", help="comma-separated seeds replacing the suite's")
    parser.add_argument("--max-updates", type=int, help="replace budget.max_updates")
    parser.add_argument("--batch-size", type=int, help="replace budget.batch_size")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra mmf_run override for every run (repeatable)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only check every run's config and print the mmf_run commands; train nothing",
    )
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="skip building the data once before the runs (each run builds what it needs)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds before one run is stopped (failed)"
    )
    return parser.parse_args(argv)


def apply_options(suite, args: argparse.Namespace):
    """The suite with the command line's narrowing and replacements applied."""
    models = suite.models
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        known = {m.label for m in suite.models}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise SystemExit(f"--models: {unknown} not in suite '{suite.name}' ({sorted(known)})")
        models = [m for m in suite.models if m.label in wanted]
    budget = dict(suite.budget)
    if args.max_updates:
        budget["max_updates"] = args.max_updates
    if args.batch_size:
        budget["batch_size"] = args.batch_size
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else suite.seeds
    for override in args.set:
        if "=" not in override:
            raise SystemExit(f"--set '{override}' is not KEY=VALUE")
    labels = {m.label for m in models}
    margins = [pair for pair in suite.margins if set(pair) <= labels]
    return dataclasses.replace(
        suite,
        models=models,
        budget=budget,
        seeds=seeds,
        overrides=[*suite.overrides, *args.set],
        margins=margins,
    )


def dry_run(suite, out: Path) -> bool:
    """Build every model's run config (first seed); print each command or its error."""

    ok = True
    for entry in suite.models:
        args = suite.run_args(entry, suite.seeds[0], out / "runs" / entry.label / "dry_run")
        try:
            build_config(args)
            print(f"ok     {entry.label}: mmf_run {' '.join(args)}")
        except Exception as error:  # any config or registry problem is reported, not raised
            ok = False
            print(f"ERROR  {entry.label}: {type(error).__name__}: {error}")
    return ok


def check_first_run(suite, out: Path) -> None:
    """Stop with one line before any run when the shared config is wrong (e.g. a required
    key such as the data folder is missing): every run would fail the same way. Checked in
    a child process like the runs, so the suite's ``env.user_dir`` plugins are not imported
    into this one."""

    args = suite.run_args(suite.models[0], suite.seeds[0], out / "check")
    command = [sys.executable, "-m", "mmf_imgtune.bench.worker", "--check", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise SystemExit(
            lines[-1]
            if lines
            else f"mmf_imgtune_bench: the config check failed ({done.returncode})"
        )


def bench(argv: Sequence[str]) -> dict | None:
    """Run a suite and write its reports; returns the results dict (None for --dry-run)."""
    # lazy: the runner imports Lightning; --help and --list stay fast
    from mmf_imgtune.bench.plots import plot_results
    from mmf_imgtune.bench.report import write_reports
    from mmf_imgtune.bench.runner import run_suite
    from mmf_imgtune.bench.suite import load_suite

    args = parse_args(argv)
    try:
        suite = apply_options(load_suite(args.suite), args)
    except (FileNotFoundError, KeyError, ValueError) as error:
        raise SystemExit(f"mmf_imgtune_bench: error: {error}") from None
    out = Path(args.out)
    if args.dry_run:
        if not dry_run(suite, out):
            raise SystemExit(1)
        return None
    check_first_run(suite, out)
    runs = len(suite.models) * len(suite.seeds)
    print(
        f"suite {suite.name}: {len(suite.models)} models x {len(suite.seeds)} seeds = {runs} runs "
        f"on {suite.dataset}, budget {suite.budget}; writing {out}",
        flush=True,
    )
    records = run_suite(
        suite,
        out,
        args.timeout,
        log=lambda line: print(line, flush=True),
        prepare=not args.no_prepare,
    )
    results = write_reports(suite, records, out)
    plot_results(suite, results, out / "results.png")
    print((out / "results.md").read_text())
    print(f"wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Console script; exits 1 when every run failed (or --dry-run found errors), else 0."""
    results = bench(sys.argv[1:] if argv is None else argv)
    if results is not None and not any(m["summary"]["runs_ok"] for m in results["models"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
