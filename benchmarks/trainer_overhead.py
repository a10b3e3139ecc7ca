"""How much does the runtime cost over a plain PyTorch loop?

Trains the same model (``toy_classifier``, widened so a step does real work) on the same
data, batch size, optimizer and number of updates, once through ``mmf_run``'s Python entry
(Lightning, checkpoints, logging) and once through a bare loop written here, alternating
``--repeats`` times, and prints the median time ratio. Target: ratio <= 1.05.

    python benchmarks/trainer_overhead.py [--updates 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from mmf_imgtune.config import build_config
from mmf_imgtune.trainer import build_model, run_training
from mmf_imgtune.trainer.datamodule import MMFDataModule
from mmf_imgtune.trainer.optim import build_optimizer


def config_for(updates: int, save_dir: str):
    return build_config(
        [
            "model=toy_classifier",
            "dataset=toy",
            "run_type=train",
            f"training.max_updates={updates}",
            "training.batch_size=128",
            f"training.checkpoint_interval={updates}",
            f"training.evaluation_interval={updates * 10}",
            "training.log_interval=50",
            "training.progress_bar=false",
            "model_config.toy_classifier.hidden_size=1024",
            "dataset_config.toy.sizes.train=4096",
            f"env.save_dir={save_dir}",
        ]
    )


def time_runtime(updates: int) -> tuple[float, float]:
    """(training-loop seconds, whole fit seconds incl. set-up) through the runtime."""
    with tempfile.TemporaryDirectory() as save_dir:
        result = run_training(config_for(updates, save_dir))
        return result["train_loop_seconds"], result["train_seconds"]


def time_plain_loop(updates: int) -> float:
    with tempfile.TemporaryDirectory() as save_dir:
        config = config_for(updates, save_dir)
        torch.manual_seed(1)
        model = build_model(config)
        data = MMFDataModule(config)
        data.prepare_data()
        data.setup("fit")
        optimizer = build_optimizer(model, config)
        start = time.perf_counter()
        model.train()
        done = 0
        while done < updates:
            for batch in data.train_dataloader():
                loss = sum(model(batch)["losses"].values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done += 1
                if done == updates:
                    break
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runtime, fit, plain = [], [], []
    time_plain_loop(20)  # warm-up: imports, allocator, thread pools
    for repeat in range(args.repeats):
        plain.append(time_plain_loop(args.updates))
        loop_seconds, fit_seconds = time_runtime(args.updates)
        runtime.append(loop_seconds)
        fit.append(fit_seconds)
        print(f"repeat {repeat}: plain {plain[-1]:.2f}s  mmf_run loop {runtime[-1]:.2f}s "
              f"(fit incl. set-up {fit[-1]:.2f}s)", flush=True)
    median_plain = statistics.median(plain)
    print(f"median plain loop:    {median_plain:.2f}s for {args.updates} updates")
    print(f"median mmf_run loop:  {statistics.median(runtime):.2f}s")
    print(f"median mmf_run fit:   {statistics.median(fit):.2f}s (one-off start-up: data set-up, "
          "loggers, final checkpoint)")
    print(f"fit ratio (start-up included): {statistics.median(fit) / median_plain:.3f}")
    print(f"ratio: {statistics.median(runtime) / median_plain:.3f}")


if __name__ == "__main__":
    main()
