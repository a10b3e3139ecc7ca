"""Aggregate a suite's runs into ``results.json`` (every number) and ``results.md`` (the table).

Metrics are reported as mean +- sample standard deviation over the seeds that finished
(one seed has no spread: ``std`` is null, shown as n/a); a model whose runs failed still gets
a row saying so, with the first error line. A suite's ``margins`` (model, control) get, per
metric, the mean and standard deviation over seeds of model minus control, paired by seed
(seeds where both finished). Models that generate text also get how varied their test
outputs are (distinct texts / images, the most frequent text and its share: a collapsed
model says one thing to every image), and every metric's scoring note (tokenizer, VQA rule).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

from mmf_imgtune.bench.suite import Suite
from mmf_imgtune.bench.worker import write_json


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value: no spread to show)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _mean(values: list) -> float | None:
    values = [v for v in values if isinstance(v, (int, float))]
    return sum(values) / len(values) if values else None


def summarise(suite: Suite, runs: dict[int, dict]) -> dict:
    """One model's summary over its seeds."""
    ok = [r for r in runs.values() if r["status"] in ("ok", "reused")]
    failed = [r for r in runs.values() if r["status"] == "failed"]
    summary: dict = {"runs_ok": len(ok), "runs_failed": len(failed)}
    if failed:
        first = failed[0]["error"].strip().splitlines()
        summary["error"] = first[-1] if first else f"exit code {failed[0]['returncode']}"
    if not ok:
        return summary
    prefix = f"{suite.report_split}/"
    keys = sorted({k for r in ok for k in r["metrics"] if k.startswith(prefix)})
    summary["metrics"] = {
        key: dict(
            zip(("mean", "std"), mean_std([r["metrics"][key] for r in ok if key in r["metrics"]]))
        )
        for key in keys
    }
    summary["parameters"] = ok[0]["parameters"]
    summary["trainable_parameters"] = ok[0]["trainable_parameters"]
    summary["train_seconds"] = _mean([r["train_seconds"] for r in ok])
    # A run resumed after a crash timed only its second part: the table flags its time.
    summary["runs_resumed"] = sum(r.get("resumed_from_update") is not None for r in ok)
    summary["samples_per_s"] = _mean([r.get("samples_per_s") for r in ok])
    summary["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    gpu = [r["peak_gpu_mb"] for r in ok if r.get("peak_gpu_mb") is not None]
    summary["peak_gpu_mb"] = max(gpu) if gpu else None
    summary["metric_notes"] = {
        k: v for r in ok for k, v in r.get("metric_notes", {}).items() if k.startswith(prefix)
    }
    summary["generated_text"] = {
        seed: r["generated_text"][key]
        for seed, r in sorted(runs.items())
        if r["status"] in ("ok", "reused")
        for key in r.get("generated_text", {})
        if key.startswith(prefix)
    }
    return summary


def margin(suite: Suite, model_runs: dict, control_runs: dict) -> dict:
    """``{metric_key: {mean, std, seeds}}`` of model minus control on the report split."""

    def ok(runs: dict, seed) -> dict | None:
        run = runs.get(seed)
        return run if run and run["status"] in ("ok", "reused") else None

    seeds = [s for s in model_runs if ok(model_runs, s) and ok(control_runs, s)]
    prefix = f"{suite.report_split}/"
    keys = sorted(
        {k for s in seeds for k in model_runs[s]["metrics"] if k.startswith(prefix)}
        & {k for s in seeds for k in control_runs[s]["metrics"]}
    )
    result = {}
    for key in keys:
        pairs = [
            s
            for s in seeds
            if key in model_runs[s]["metrics"] and key in control_runs[s]["metrics"]
        ]
        diffs = [model_runs[s]["metrics"][key] - control_runs[s]["metrics"][key] for s in pairs]
        if diffs:
            mean, std = mean_std(diffs)
            result[key] = {"mean": mean, "std": std, "seeds": [int(s) for s in pairs]}
    return result


def build_results(suite: Suite, records: dict[str, dict[int, dict]]) -> dict:
    models = {
        label: {"summary": summarise(suite, runs), "runs": {str(s): r for s, r in runs.items()}}
        for label, runs in records.items()
    }
    margins = {
        f"{model} - {control}": margin(suite, records[model], records[control])
        for model, control in suite.margins
        if model in records and control in records
    }
    return {
        "suite": dataclasses.asdict(suite),
        "written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "models": models,
        "margins": margins,
    }


def margin_lines(suite: Suite, results: dict) -> list[str]:
    """The margin table of results.md (empty without margins)."""
    margins = {name: m for name, m in results.get("margins", {}).items() if m}
    if not margins:
        return []
    keys = sorted({k for m in margins.values() for k in m})
    lines = [
        "",
        "Margins: model minus control per seed, mean ± std over the seeds both finished "
        "(a margin above its std is above the seeds' spread):",
        "",
        "| margin | " + " | ".join(keys) + " |",
        "|" + "---|" * (len(keys) + 1),
    ]
    for name, values in margins.items():
        cells = [
            _spread(values[k]["mean"], values[k]["std"], "+") if k in values else "-" for k in keys
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _table_text(text: str) -> str:
    """A generated text as one markdown table cell (an empty one said, not left blank)."""
    return " ".join(text.split()).replace("|", "\\|") if text.strip() else "(empty)"


def generation_lines(summaries: dict[str, dict]) -> list[str]:
    """Per model and seed, how varied its generated test texts are (empty if none)."""
    rows = [
        f"| {label} | {seed} | {g['distinct']} / {g['generated']} | "
        f"{_table_text(g['most_frequent'])} | "
        f"{g['most_frequent_count']} ({100 * g['most_frequent_share']:.1f}%) |"
        for label, summary in summaries.items()
        for seed, g in summary.get("generated_text", {}).items()
    ]
    if not rows:
        return []
    return [
        "",
        "Generated test texts (a model that says one thing to every image has collapsed):",
        "",
        "| model | seed | distinct / images | most frequent | its count (share) |",
        "|---|---|---|---|---|",
        *rows,
    ]


def note_lines(summaries: dict[str, dict]) -> list[str]:
    """How each metric was scored (tokenizer, VQA rule), once per distinct note."""
    notes = {k: v for s in summaries.values() for k, v in s.get("metric_notes", {}).items()}
    if not notes:
        return []
    return ["", "How the metrics were scored:", ""] + [
        f"- `{key}`: {note}" for key, note in sorted(notes.items())
    ]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _spread(mean: float, std: float | None, sign: str = "") -> str:
    return f"{mean:{sign}.4f} ± " + ("n/a" if std is None else f"{std:.4f}")


def _metric_cell(summary: dict, key: str) -> str:
    stats = summary.get("metrics", {}).get(key)
    if stats is None:
        return "-"
    return _spread(stats["mean"], stats["std"])


def markdown_table(suite: Suite, results: dict) -> str:
    """The ``results.md`` text: a header naming the setup, then one row per model."""
    main = f"{suite.report_split}/{suite.main_metric}"
    summaries = {label: m["summary"] for label, m in results["models"].items()}
    others = sorted(
        {k for s in summaries.values() for k in s.get("metrics", {})}
        - {main}
        - {k for k in (f"{suite.report_split}/total_loss",)}
    )
    gpu = any(s.get("peak_gpu_mb") is not None for s in summaries.values())
    budget = ", ".join(f"{k}={v}" for k, v in suite.budget.items())
    lines = [
        f"# Benchmark `{suite.name}`",
        "",
        f"Dataset `{suite.dataset}`; budget {budget}; seeds {suite.seeds}; "
        f"metrics on the {suite.report_split} split, mean ± std over seeds. "
        f"Written {results['written']}.",
        "",
    ]
    if suite.overrides:
        shown = ", ".join(f"`{o}`" for o in suite.overrides)
        lines += [f"Every run also had: {shown} (later ones win over the budget).", ""]
    header = [
        "model",
        f"**{main}**",
        *others,
        "params",
        "trainable",
        "train time (s)",
        "samples/s",
        "peak RSS (MB)",
        *(["peak GPU (MB)"] if gpu else []),
        "runs",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, summary in summaries.items():
        runs = f"{summary['runs_ok']}/{summary['runs_ok'] + summary['runs_failed']}"
        if not summary["runs_ok"]:
            cells = [label, f"FAILED: {summary.get('error', '')}".replace("|", "/")]
            cells += ["-"] * (len(header) - 3) + [runs]
            lines.append("| " + " | ".join(cells) + " |")
            continue
        cells = [
            label,
            _metric_cell(summary, main),
            *(_metric_cell(summary, k) for k in others),
            f"{summary['parameters']:,}",
            f"{summary['trainable_parameters']:,}",
            _fmt(summary["train_seconds"]) + ("*" if summary.get("runs_resumed") else ""),
            _fmt(summary["samples_per_s"]),
            _fmt(summary["peak_rss_mb"], 0),
            *([_fmt(summary["peak_gpu_mb"], 0)] if gpu else []),
            runs,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if any(s.get("runs_resumed") for s in summaries.values()):
        lines += [
            "",
            "\\* some runs were resumed after a crash (`resumed_from_update` in results.json); "
            "their train time counts only the part after the resume.",
        ]
    lines += margin_lines(suite, results) + generation_lines(summaries) + note_lines(summaries)
    failed = [(name, s["error"]) for name, s in summaries.items() if s["runs_failed"]]
    if failed:
        lines += ["", "Failed runs (see `runs/<model>/seed_<n>/stderr.log`):"]
        lines += [f"- {label}: {error}" for label, error in failed]
    return "\n".join(lines) + "\n"


def write_reports(suite: Suite, records: dict[str, dict[int, dict]], out: Path) -> dict:
    """Write ``results.json`` and ``results.md`` into ``out``; returns the results dict."""
    results = build_results(suite, records)
    write_json(out / "results.json", results)
    (out / "results.md").write_text(markdown_table(suite, results))
    return results
