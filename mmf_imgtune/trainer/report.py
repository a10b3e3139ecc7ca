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
    Console().print(table)
