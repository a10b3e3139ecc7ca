"""Writes a small tsv_memes data set (TSVs + region features) to try the plugin.

    python projects/plugin_example/make_data.py --data_dir ./data [--size 64]

The label is whether the text says "love" XOR whether the image's first region feature is
positive, so a model must use both modalities to beat chance.
"""

import argparse
import os

import numpy as np

from mmf_imgtune.io.features import FeatureWriter

WORDS = ["i", "this", "is", "so", "funny", "sad", "cats", "dogs"]


def make(data_dir: str, size: int = 64, seed: int = 0) -> str:
    root = os.path.join(data_dir, "tsv_memes")
    rng = np.random.default_rng(seed)
    with FeatureWriter(os.path.join(root, "features"), format="npy", fsync=False) as writer:
        for split, count in (("train", size), ("val", size // 2), ("test", size // 2)):
            lines = ["id\timage\ttext\tlabel"]
            for n in range(count):
                ident = len(lines) + {"train": 0, "val": 10000, "test": 20000}[split]
                love, bright = int(rng.integers(0, 2)), int(rng.integers(0, 2))
                words = rng.choice(WORDS, 3).tolist() + ["love" if love else "hate"]
                text = " ".join(words) + (" @friend https://t.co/x" if n % 3 == 0 else "")
                lines.append(f"{ident}\timg/{ident:05d}.png\t{text}\t{love ^ bright}")
                boxes = int(rng.integers(3, 8))
                features = rng.normal(0, 1, (boxes, 8)).astype(np.float32)
                features[0, 0] = 2.0 if bright else -2.0
                xy = rng.uniform(0, 50, (boxes, 2))
                info = {"bbox": np.concatenate([xy, xy + 20], axis=1), "image_width": 80,
                        "image_height": 80}  # fmt: skip
                writer.write(f"{ident:05d}", features, info)
            with open(os.path.join(root, f"{split}.tsv"), "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=os.environ.get("MMF_DATA_DIR", "./data"))
    parser.add_argument("--size", type=int, default=64, help="train rows (val/test: half)")
    args = parser.parse_args()
    print(f"wrote {make(args.data_dir, args.size)}")
