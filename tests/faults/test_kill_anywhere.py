"""SIGKILL at random moments of real writers (separate processes, no clean-up code runs):
what is on disk afterwards is always a complete earlier version, never a torn file, and the
next writer clears the dead one's temporary files and carries on."""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.io.features import FeatureReader
from mmf_imgtune.trainer.checkpoint_io import safe_torch_load

pytestmark = pytest.mark.slow

CHECKPOINT_WRITER = """
import sys, torch
from mmf_imgtune.io.atomic import atomic_write
path, version = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
while True:
    version += 1
    state = {"version": version, "weights": torch.full((512, 1024), float(version))}  # 2 MiB
    atomic_write(path, lambda handle: torch.save(state, handle), clear_orphans=True)
"""

FEATURE_WRITER = """
import sys
import numpy as np
from mmf_imgtune.io.features import FeatureWriter
path, fmt, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with FeatureWriter(path, format=fmt) as writer:
    print("ready", flush=True)
    for i in range(count):
        key = f"img{i:04d}"
        if writer.exists(key):
            continue
        boxes = 1 + i % 5
        bbox = np.tile(np.array([0, 0, 10, 10], np.float32), (boxes, 1))
        writer.write(key, np.full((boxes, 256), i, np.float32),
                     {"bbox": bbox, "image_width": 20, "image_height": 20})
print("done", flush=True)
"""


def _start(source, *args):
    process = subprocess.Popen(
        [sys.executable, "-c", source, *map(str, args)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def _kill(process, delay):
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_checkpoint_killed_anywhere_stays_loadable(tmp_path):
    path = tmp_path / "current.ckpt"
    rng = random.Random(0)
    last = 0
    for attempt in range(4):
        _kill(_start(CHECKPOINT_WRITER, path, 1000 * attempt), rng.uniform(0.05, 0.6))
        state = safe_torch_load(path)  # a complete version: never torn
        version = state["version"]
        assert (state["weights"] == float(version)).all()
        assert version > last or attempt == 0 and version >= 1
        last = version
    # Writers killed mid-write leave temporary files; the next write removes them.
    atomic_write(path, b"next", clear_orphans=True)
    assert sorted(os.listdir(tmp_path)) == ["current.ckpt"]


@pytest.mark.parametrize("fmt", ["npy", "lmdb"])
def test_feature_writer_killed_anywhere_keeps_only_complete_keys(tmp_path, fmt):
    path = tmp_path / ("features.lmdb" if fmt == "lmdb" else "features")
    count, rng = 400, random.Random(1)

    def check_every_visible_key():
        reader = FeatureReader(str(path), max_features=5)
        keys = sorted(reader.keys())
        for key in keys:
            index = int(key[3:])
            features, info = reader.read(key)
            boxes = 1 + index % 5
            assert int(info["num_boxes"]) == boxes, key
            assert np.all(features[:boxes].numpy() == index), key
        return keys

    seen = 0
    for _ in range(2):
        if os.path.exists(path):
            seen = len(check_every_visible_key())
        _kill(_start(FEATURE_WRITER, path, fmt, count), rng.uniform(0.1, 0.5))
        assert len(check_every_visible_key()) >= seen  # resumes, never loses finished keys
    # The next run completes what is missing; the result is the same as one clean run.
    finish = _start(FEATURE_WRITER, path, fmt, count)
    assert finish.stdout.read().strip() == "done" and finish.wait() == 0
    assert check_every_visible_key() == [f"img{i:04d}" for i in range(count)]
    litter = [p for p in path.rglob("*") if ".tmp" in p.name]
    assert not litter, litter
