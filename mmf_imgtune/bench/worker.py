"""One benchmark run in its own process: ``mmf_run`` plus the measurements the table needs.

    python -m mmf_imgtune.bench.worker RESULT_JSON mmf_run-args...
    python -m mmf_imgtune.bench.worker --prepare mmf_run-args...

Runs what ``mmf_run args`` runs (``build_config`` + ``run_training``) and writes RESULT_JSON (atomically, only on success)
with the run's metrics, parameter counts, training time, and this process's peak memory:
resident set size (all of it: Python, torch, data) and, on GPU, the CUDA allocator's peak.
A separate process per run isolates crashes and makes peak memory per model meaningful.
``--prepare`` only builds the data sets (generation, feature extraction) the runs will read,
so that no model's training time includes it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

import torch

from mmf_imgtune.config import ConfigError, build_config
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.trainer import run_training
from mmf_imgtune.trainer.datamodule import MMFDataModule


def peak_memory_mb() -> dict[str, float | None]:
    """Peak RSS of this process and peak CUDA memory allocated, in MiB."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    gpu = None

    if torch.cuda.is_available():
        gpu = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return {"peak_rss_mb": round(rss_kib / 1024, 1), "peak_gpu_mb": gpu}


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=1, default=str))


def prepare(args: list[str]) -> None:
    """Run every dataset builder's ``build`` for the splits the run needs, nothing else."""

    MMFDataModule(build_config(args)).prepare_data()


def check(args: list[str]) -> None:
    """Build the run's config only: a wrong one exits with its one-line error."""

    try:
        build_config(args)
    except ConfigError as error:
        raise SystemExit(f"mmf_imgtune_bench: error: {error}") from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        raise SystemExit("usage: python -m mmf_imgtune.bench.worker RESULT_JSON mmf_run-args...")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    threads = os.environ.get("MMF_BENCH_THREADS")
    if threads:
        # Runs go one at a time, so each may use every core; this caps it (also for --prepare,
        # which extracts features).
        torch.set_num_threads(int(threads))
        argv = [*argv, f"training.cpu_threads={int(threads)}"]
    if argv[0] == "--prepare":
        prepare(argv[1:])
        return
    if argv[0] == "--check":
        check(argv[1:])
        return
    result_path, args = Path(argv[0]), argv[1:]
    result = run_training(build_config(args))
    result.update(peak_memory_mb())
    result["args"] = args
    write_json(result_path, result)


if __name__ == "__main__":
    main()
