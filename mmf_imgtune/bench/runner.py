"""Run every (model, seed) of a suite, one subprocess each, resumable and failure-tolerant.

Layout under ``--out``: ``runs/<label>/seed_<seed>/`` holds the run's ``env.save_dir``
(config, checkpoints, logs), ``result.json`` (written by the worker on success; its presence
makes a rerun skip the run) and, on failure, ``error.json`` plus ``stdout.log``/``stderr.log``.
``attempt.json`` records the arguments of the last attempt: when a rerun finds a run that was
killed half-way (its ``save/current.ckpt`` exists but no ``result.json``) and the arguments
still match, it continues from that checkpoint, exactly as an uninterrupted run would have;
a partial run made with other arguments is discarded and started afresh.
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmf_imgtune.bench.suite import ModelEntry, Suite
from mmf_imgtune.bench.worker import write_json
from mmf_imgtune.trainer.checkpoint_io import checkpoint_step

# What trainer/console.py's ProgressLog prints: progress lines and validation results.
PROGRESS_MARKS = ("[mmf_imgtune] progress: ", "[mmf_imgtune] validation")


def run_dir(out: Path, label: str, seed: int) -> Path:
    return out / "runs" / label / f"seed_{seed}"


def read_curve(
    save_dir: Path, metric_key: str, max_updates: int | None = None
) -> list[list[float]]:
    """``[[update, value], ...]`` of ``metric_key`` from the run's CSV log (empty if none)."""
    path = save_dir / "logs" / "csv" / "metrics.csv"
    if not path.is_file():
        return []
    points = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            value = row.get(metric_key)
            if value not in (None, ""):
                # Inside fit Lightning logs step = updates done - 1; the validation after
                # fit logs the final update count, hence the clamp.
                update = int(float(row.get("step") or 0)) + 1
                if max_updates is not None:
                    update = min(update, max_updates)
                if points and points[-1][0] == update:
                    points.pop()  # the evaluation after fit repeats the last one of fit
                points.append([update, float(value)])
    return points


def mean_logged(save_dir: Path, metric_key: str) -> float | None:
    """Mean of a logged training figure (e.g. ``train/samples_per_s``), None if never logged."""
    values = [v for _, v in read_curve(save_dir, metric_key)]
    return sum(values) / len(values) if values else None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _die_with_parent() -> None:
    """In the child: be killed when the bench process dies, so that no orphaned run keeps
    writing into a folder that the next bench invocation resumes."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _resumable_update(folder: Path, args: list[str]) -> int | None:
    """The update a half-finished run can continue from, or None to start afresh."""
    save_dir = folder / "save"
    attempt = folder / "attempt.json"
    checkpoint = save_dir / "current.ckpt"
    if checkpoint.is_file() and attempt.is_file():
        if json.loads(attempt.read_text()).get("args") == args:
            return checkpoint_step(checkpoint)
    if save_dir.exists():
        shutil.rmtree(save_dir)  # a partial run of other arguments (or none to resume)
    return None


def _run_streaming(
    command: list[str], timeout: float, progress: Callable[[str], None] | None
) -> tuple[int | str, str, str]:
    """Run the worker; hand each of its progress lines (update, loss, ETA, printed every
    ``training.log_interval``) to ``progress`` as it comes. Returns (exit code or "timeout",
    stdout, stderr)."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        preexec_fn=_die_with_parent,
    )
    lines: dict[str, list[str]] = {"stdout": [], "stderr": []}

    def read(name: str, stream: Any) -> None:
        for line in stream:
            lines[name].append(line)
            if progress and name == "stdout" and line.startswith(PROGRESS_MARKS):
                progress(line.strip().removeprefix("[mmf_imgtune] "))

    readers = [
        threading.Thread(target=read, args=(name, getattr(process, name)), daemon=True)
        for name in lines
    ]
    for reader in readers:
        reader.start()
    try:
        code: int | str = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = "timeout"
    for reader in readers:
        reader.join()
    return code, "".join(lines["stdout"]), "".join(lines["stderr"])


def run_one(
    suite: Suite,
    entry: ModelEntry,
    seed: int,
    out: Path,
    timeout: float,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run, resume or reuse one run; returns its record (``status`` ok / failed / reused).
    ``progress`` gets the run's progress lines while it trains."""
    folder = run_dir(out, entry.label, seed)
    result_path = folder / "result.json"
    if result_path.is_file():
        return {**json.loads(result_path.read_text()), "status": "reused"}
    folder.mkdir(parents=True, exist_ok=True)
    save_dir = folder / "save"
    args = suite.run_args(entry, seed, save_dir)
    resumed_from = _resumable_update(folder, args)
    write_json(folder / "attempt.json", {"args": args})
    run_args = args if resumed_from is None else [*args, "checkpoint.resume=true"]
    command = [sys.executable, "-m", "mmf_imgtune.bench.worker", str(result_path), *run_args]
    started = time.perf_counter()
    code, stdout, stderr = _run_streaming(command, timeout, progress)
    wall = round(time.perf_counter() - started, 2)
    (folder / "stdout.log").write_text(stdout)
    (folder / "stderr.log").write_text(stderr)
    if code != 0 or not result_path.is_file():
        message = _tail(stderr or stdout or "")
        if code == "timeout" or (isinstance(code, int) and code < 0):
            # The last output line is then just whatever the run printed last: say what ended it.
            cause = "timed out" if code == "timeout" else f"killed by {signal.Signals(-code).name}"
            message += f"\n{cause}; run the bench again to resume from the last checkpoint"
        error = {
            "status": "failed",
            "returncode": code,
            "wall_seconds": wall,
            "error": message.strip(),
            "args": run_args,
            "resumed_from_update": resumed_from,
        }
        write_json(folder / "error.json", error)
        return error
    (folder / "error.json").unlink(missing_ok=True)
    result = json.loads(result_path.read_text())
    split, metric = suite.report_split, suite.main_metric
    result["curve"] = read_curve(save_dir, f"val/{metric}", result.get("num_updates"))
    result["samples_per_s"] = mean_logged(save_dir, "train/samples_per_s")
    result["wall_seconds"] = wall
    # train_seconds then covers only the resumed part: the table flags such runs' time.
    result["resumed_from_update"] = resumed_from
    result["main_metric"] = result["metrics"].get(f"{split}/{metric}")
    write_json(result_path, result)
    return {**result, "status": "ok"}


def prepare_data(suite: Suite, out: Path, timeout: float, log: Callable[[str], None]) -> bool:
    """Build the suite's data once, before any run, so no run's timing includes it."""
    args = suite.run_args(suite.models[0], suite.seeds[0], out / "prepare")
    command = [sys.executable, "-m", "mmf_imgtune.bench.worker", "--prepare", *args]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"preparing {suite.dataset} timed out after {timeout:.0f}s; runs will build it")
        return False
    if done.returncode != 0:
        log(f"preparing {suite.dataset} failed; runs will try themselves:\n{_tail(done.stderr, 5)}")
        return False
    log(f"data for {suite.dataset} ready ({time.perf_counter() - started:.1f}s)")
    return True


def run_suite(
    suite: Suite,
    out: Path,
    timeout: float,
    log: Callable[[str], None] = print,
    prepare: bool = True,
) -> dict[str, dict[int, dict]]:
    """All runs of the suite, in order; ``{label: {seed: record}}``. Never raises for a run."""
    os.makedirs(out, exist_ok=True)
    pending = any(
        not (run_dir(out, m.label, s) / "result.json").is_file()
        for m in suite.models
        for s in suite.seeds
    )
    if prepare and pending:
        prepare_data(suite, out, timeout, log)
    records: dict[str, dict[int, dict]] = {}
    total = len(suite.models) * len(suite.seeds)
    index = 0
    for entry in suite.models:
        for seed in suite.seeds:
            index += 1
            name = f"[{index}/{total}] {entry.label} seed {seed}"
            log(f"{name} ...")
            record = run_one(
                suite, entry, seed, out, timeout, lambda line, name=name: log(f"{name}: {line}")
            )
            records.setdefault(entry.label, {})[seed] = record
            log(f"[{index}/{total}] {entry.label} seed {seed}: {_describe(record, suite)}")
    return records


def _describe(record: dict, suite: Suite) -> str:
    if record["status"] == "failed":
        last = record["error"].splitlines()[-1] if record["error"] else "no output"
        return f"FAILED ({record['returncode']}): {last}"
    value = record.get("main_metric")
    shown = f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"
    how = "reused existing result" if record["status"] == "reused" else "done"
    if record.get("resumed_from_update") is not None:
        how += f" (resumed from update {record['resumed_from_update']})"
    return (
        f"{how}, {suite.report_split}/{suite.main_metric}={shown}, {record['train_seconds']:.1f}s"
    )
