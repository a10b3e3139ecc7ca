"""Read throughput of FeatureReader (npy folder and LMDB) against raw loading loops.

    .venv/bin/python benchmarks/feature_read.py [--samples 2000] [--dim 1024] [--max-features 50]

Writes random region features (10 to 60 boxes an image) with FeatureWriter, then times
``FeatureReader.read`` (restricted unpickler, padding to max_features, tensors) against the
raw loops MMF users would write: ``np.load`` of ``<key>.npy`` + ``np.load(<key>_info.npy,
allow_pickle=True)`` for the folder, and ``pickle.loads(txn.get(key))`` for the LMDB.
Target: reader >= 0.8x of the raw loop. Prints samples/s and the ratios.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time

import numpy as np
import torch

from mmf_imgtune.io.features import FeatureReader, FeatureWriter


def write(path: str, fmt: str, samples: int, dim: int) -> list[str]:
    rng = np.random.default_rng(0)
    keys = [f"img{i}" for i in range(samples)]
    with FeatureWriter(path, format=fmt, fsync=False) as writer:
        for key in keys:
            count = int(rng.integers(10, 61))
            xy = rng.uniform(0, 300, size=(count, 2))
            info = {
                "bbox": np.concatenate([xy, xy + 50], 1),
                "objects": rng.integers(0, 1600, count),
                "cls_prob": rng.uniform(size=count),
                "image_width": 400,
                "image_height": 400,
            }
            writer.write(key, rng.normal(size=(count, dim)).astype(np.float32), info)
    return keys


def best_rate(fn, keys: list[str], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for key in keys:
            fn(key)
        rates.append(len(keys) / (time.perf_counter() - start))
    return max(rates)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--samples", type=int, default=2000)
    cli.add_argument("--dim", type=int, default=1024)
    cli.add_argument("--max-features", type=int, default=50)
    cli.add_argument("--repeats", type=int, default=3)
    args = cli.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        folder, db = os.path.join(root, "feats"), os.path.join(root, "feats.lmdb")
        keys = write(folder, "npy", args.samples, args.dim)
        write(db, "lmdb", args.samples, args.dim)

        def raw_npy(key):
            np.load(os.path.join(folder, f"{key}.npy"))
            np.load(os.path.join(folder, f"{key}_info.npy"), allow_pickle=True).item()

        npy_reader = FeatureReader(folder, args.max_features)
        lmdb_reader = FeatureReader(db, args.max_features)
        # lmdb opens an environment once per process: the raw loop shares the reader's.
        env = lmdb_reader.store._open_read()

        def raw_lmdb(key):
            with env.begin(write=False) as txn:
                pickle.loads(txn.get(key.encode()))

        rates = {
            "raw np.load loop": best_rate(raw_npy, keys, args.repeats),
            "FeatureReader npy": best_rate(npy_reader.read, keys, args.repeats),
            "raw lmdb pickle.loads loop": best_rate(raw_lmdb, keys, args.repeats),
            "FeatureReader lmdb": best_rate(lmdb_reader.read, keys, args.repeats),
        }
    print(f"{args.samples} samples, dim {args.dim}, max_features {args.max_features}")
    for name, rate in rates.items():
        print(f"  {name:28s} {rate:9.0f} samples/s")
    npy_ratio = rates["FeatureReader npy"] / rates["raw np.load loop"]
    lmdb_ratio = rates["FeatureReader lmdb"] / rates["raw np.load loop"]
    print(f"  npy reader / raw np.load loop:  {npy_ratio:.2f}x (target >= 0.8x)")
    print(f"  lmdb reader / raw np.load loop: {lmdb_ratio:.2f}x")
    print(
        f"  lmdb reader / raw lmdb loop:    "
        f"{rates['FeatureReader lmdb'] / rates['raw lmdb pickle.loads loop']:.2f}x"
    )


if __name__ == "__main__":
    main()
