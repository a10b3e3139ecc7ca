"""``results.png``: the main metric per model (bars, std error bars) and validation curves."""

from __future__ import annotations

from pathlib import Path

from mmf_imgtune.bench.suite import Suite


def plot_results(suite: Suite, results: dict, path: Path) -> Path:
    """Left: bar chart of the main metric (mean ± std); right: val curves, mean over seeds."""
    # lazy: matplotlib loads only when a plot is drawn
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    main = f"{suite.report_split}/{suite.main_metric}"
    labels, means, stds = [], [], []
    for label, model in results["models"].items():
        stats = model["summary"].get("metrics", {}).get(main)
        labels.append(label if stats else f"{label}\n(failed)")
        means.append(stats["mean"] if stats else 0.0)
        # One seed has no spread (std None): no error bar.
        stds.append(stats["std"] if stats and stats["std"] is not None else 0.0)
    figure, (bars, curves) = plt.subplots(1, 2, figsize=(12, 4.5))
    positions = range(len(labels))
    bars.bar(positions, means, yerr=stds, capsize=4, color="tab:blue")
    bars.set_xticks(list(positions), labels, rotation=30, ha="right")
    bars.set_ylabel(main)
    bars.set_title(f"{suite.name}: {main}")
    for x, value in zip(positions, means):
        bars.annotate(f"{value:.3f}", (x, value), ha="center", va="bottom", fontsize=8)
    for label, model in results["models"].items():
        points = _mean_curve([r.get("curve") or [] for r in model["runs"].values()])
        if points:
            curves.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    curves.set_xlabel("updates")
    curves.set_ylabel(f"val/{suite.main_metric}")
    curves.set_title("validation curves (mean over seeds)")
    if curves.get_legend_handles_labels()[0]:
        curves.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _mean_curve(curves: list[list[list[float]]]) -> list[tuple[int, float]]:
    """Average the seeds' ``[[update, value], ...]`` at the updates they share."""
    by_step: dict[int, list[float]] = {}
    for curve in curves:
        for step, value in curve:
            by_step.setdefault(int(step), []).append(value)
    return [(step, sum(v) / len(v)) for step, v in sorted(by_step.items())]
