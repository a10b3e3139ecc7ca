"""Does a long run's memory grow? Trains ``toy_classifier`` on tiny data for thousands of
updates (DataLoader workers, frequent evaluation, checkpoints) and prints the resident memory
of the trainer and its workers at the start and the end.

    python benchmarks/memory_soak.py [--updates 3000] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile

import lightning.pytorch as pl
import psutil

from mmf_imgtune import registry
from mmf_imgtune.config import build_config
from mmf_imgtune.trainer import run_training


def rss_mib() -> float:
    process = psutil.Process()
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


@registry.register_callback("rss_probe")
class RSSProbe(pl.Callback):
    """Samples RSS every `every` updates (after warm-up) and prints the series."""

    def __init__(self, config, every: int):
        self.every = every
        self.samples: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer, *args):
        step = trainer.global_step
        if step and step % self.every == 0 and not trainer.fit_loop._should_accumulate():
            self.samples.append((step, rss_mib()))
            print(f"update {step:6d}: RSS {self.samples[-1][1]:8.1f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as save_dir:
        config = build_config([
            "model=toy_classifier", "dataset=toy", "run_type=train_val",
            f"training.max_updates={args.updates}", "training.batch_size=16",
            f"training.num_workers={args.workers}", "training.evaluation_interval=250",
            "training.checkpoint_interval=500", "training.log_interval=50",
            "training.progress_bar=false", "evaluation.metrics=[accuracy,roc_auc]",
            f"training.callbacks=[{{type: rss_probe, params: {{every: {max(1, args.updates // 10)}}}}}]",
            f"env.save_dir={save_dir}",
        ])
        print(f"start: RSS {rss_mib():.1f} MiB")
        run_training(config)
    print("(the first sample includes worker start-up; compare it with the last)")


if __name__ == "__main__":
    main()
