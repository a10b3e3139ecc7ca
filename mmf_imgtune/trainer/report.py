"""The metric table printed at the end of a run."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table


def print_metrics(result: dict[str, Any], config: DictConfig) -> None:
    table = Table(title=f"{config.model} on {', '.join(config.datasets)}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(result["metrics"].items()):
        table.add_row(key, f"{value:.4f}")
    table.add_row("updates", str(result["num_updates"]))
    table.add_row(
        "parameters (trainable)", f"{result['parameters']:,} ({result['trainable_parameters']:,})"
    )
    table.add_row("train time (s)", f"{result['train_seconds']:.1f}")
    for path in result["predictions"]:
        table.add_row("predictions", path)
    for key, note in sorted(result.get("metric_notes", {}).items()):
        table.add_row(f"{key} scored by", note)
    for key, summary in sorted(result.get("generated_text", {}).items()):
        table.add_row(f"{key} generated", describe_generation(summary))
    Console().print(table)


def describe_generation(summary: dict) -> str:
    """``35 distinct / 118; most frequent "A car." 24/118 (20.3%)``."""
    return (
        f"{summary['distinct']} distinct / {summary['generated']}; most frequent "
        f"{summary['most_frequent']!r} {summary['most_frequent_count']}/{summary['generated']} "
        f"({100 * summary['most_frequent_share']:.1f}%)"
    )
