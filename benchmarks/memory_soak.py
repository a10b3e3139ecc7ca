"""Does a long run's memory grow? Trains ``toy_classifier`` on tiny data for thousands of
updates (DataLoader workers, frequent evaluation with metrics, checkpoints) and prints the
resident memory of the trainer and its workers at the start and the end.

    python benchmarks/memory_soak.py [--updates 3000] [--workers 2] [--data lmdb|toy]

``--data lmdb`` (default) reads a generated Hateful-Memes-layout data set: jsonl annotations
and an LMDB feature store, opened per DataLoader worker (the handles a leak would pile up);
``toy`` keeps everything in memory, the runtime alone.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
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


WORDS = ["a", "cat", "dog", "love", "hate", "this", "is", "so", "not", "funny"]


def write_lmdb_memes(root: Path, count: int = 512) -> list[str]:
    """Hateful Memes' MMF layout under ``root``: train/dev jsonl + features/detectron.lmdb
    (16-d, 3-8 boxes); the label is readable from the features, so training has a signal."""
    from mmf_imgtune.io.features import FeatureWriter

    base = root / "datasets" / "hateful_memes" / "defaults"
    (base / "annotations").mkdir(parents=True)
    rng = np.random.default_rng(0)
    records = []
    with FeatureWriter(str(base / "features" / "detectron.lmdb"), format="lmdb") as writer:
        for index in range(count):
            label, boxes = index % 2, int(rng.integers(3, 9))
            features = rng.normal(size=(boxes, 16)).astype(np.float32)
            features[:, 0] += 2.0 * label
            bbox = np.tile(np.array([0, 0, 10, 10], np.float32), (boxes, 1))
            writer.write(f"{index:05d}", features, {"bbox": bbox, "image_width": 20,
                                                    "image_height": 20})  # fmt: skip
            text = " ".join(rng.choice(WORDS, size=5))
            records.append({"id": index, "img": f"img/{index:05d}.png", "text": text,
                            "label": label})  # fmt: skip
    for name, part in (("train", records[:-128]), ("dev_unseen", records[-128:])):
        lines = "".join(json.dumps(r) + "\n" for r in part)
        (base / "annotations" / f"{name}.jsonl").write_text(lines)
    words = "[" + ", ".join(WORDS) + "]"
    params = "dataset_config.hateful_memes.processors.text_processor.params"
    return [
        "dataset=hateful_memes", f"env.data_dir={root}",
        "dataset_config.hateful_memes.use_features=true",
        "dataset_config.hateful_memes.use_images=false",
        "dataset_config.hateful_memes.max_features=8",
        f"{params}.tokenizer={{word_level: {{words: {words}}}}}", f"{params}.max_seq_length=8",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", choices=("lmdb", "toy"), default="lmdb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as save_dir:
        data = ["dataset=toy"]
        if args.data == "lmdb":
            data = write_lmdb_memes(Path(save_dir) / "data")
        config = build_config(
            [
                "model=toy_classifier",
                *data,
                "run_type=train_val",
                f"training.max_updates={args.updates}",
                "training.batch_size=16",
                f"training.num_workers={args.workers}",
                "training.evaluation_interval=250",
                "training.checkpoint_interval=500",
                "training.log_interval=50",
                "training.progress_bar=false",
                "evaluation.metrics=[accuracy,roc_auc]",
                f"training.callbacks=[{{type: rss_probe, params: {{every: {max(1, args.updates // 10)}}}}}]",
                f"env.save_dir={save_dir}",
            ]
        )
        print(f"start: RSS {rss_mib():.1f} MiB")
        run_training(config)
    print("(the first sample includes worker start-up; compare it with the last)")


if __name__ == "__main__":
    main()
