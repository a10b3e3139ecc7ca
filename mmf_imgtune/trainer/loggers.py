"""Loggers whose history survives a resume.

Lightning's ``CSVLogger`` deletes ``metrics.csv`` when it starts, so a run resumed after a
crash would lose every row logged before it. On resume we keep the rows of the updates the
checkpoint covers and drop the ones logged after it (the resumed run logs them again), so the
file of a resumed run reads like that of an uninterrupted one. TensorBoard does the same with
``purge_step``.
"""

from __future__ import annotations

import csv
import io
import os

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from mmf_imgtune.io.atomic import atomic_write


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` that, given ``resume_step``, keeps the rows logged before that update."""

    def __init__(self, *args, resume_step: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self):
        if self._experiment is not None or self._resume_step is None:
            return super().experiment
        path = os.path.join(self.log_dir, "metrics.csv")
        header, rows = _read_rows(path)
        experiment = super().experiment  # this deletes the old file
        # Lightning logs update u's training figures with step u - 1, and the validation at
        # update u with step u - 1 too: rows with step < resume_step are the checkpoint's past.
        kept = [row for row in rows if _step(row) < self._resume_step]
        if header:
            experiment.metrics_keys = sorted(header)
            atomic_write(
                path,
                lambda handle: _write_rows(handle, experiment, kept),
                fsync_folder=True,
                clear_orphans=True,
            )
        return experiment


def _step(row: dict) -> float:
    try:
        return float(row.get("step") or 0)
    except ValueError:
        return float("inf")  # a torn last line of a killed run: drop it


def _read_rows(path: str) -> tuple[list[str], list[dict]]:
    if not os.path.isfile(path):
        return [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if None not in row]  # None: more cells than the header
        return list(reader.fieldnames or []), rows


def _write_rows(handle, experiment, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=experiment.metrics_keys)
    writer.writeheader()
    writer.writerows(rows)
    handle.write(text.getvalue().encode())


def build_loggers(log_dir: str, resume_step: int | None) -> list:
    """TensorBoard and CSV loggers under ``log_dir``, both continuing at ``resume_step``."""
    tensorboard_args = {} if resume_step is None else {"purge_step": resume_step}
    return [
        TensorBoardLogger(log_dir, name="tensorboard", version="", **tensorboard_args),
        ResumableCSVLogger(log_dir, name="csv", version="", resume_step=resume_step),
    ]
