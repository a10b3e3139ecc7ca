"""Fixtures of the CLI tests: one tiny dialogue run on shapes, shared by the chat tests."""

import json

import pytest
import torch

DIALOGUE_CONFIG = "projects/imgtune/configs/shapes/dialogue.yaml"


@pytest.fixture(scope="session")
def dialogue_run(tmp_path_factory):
    """(checkpoint, [(image path, its boxes as JSON)] x 2) of a 3-update dialogue run."""
    from mmf_imgtune.cli.run import run

    root = tmp_path_factory.mktemp("dialogue_run")
    torch.manual_seed(0)
    run([f"config={DIALOGUE_CONFIG}", "run_type=train", f"env.data_dir={root / 'data'}",
         f"env.save_dir={root / 'save'}", "dataset_config.shapes.sizes={train: 16, val: 4, test: 4}",
         "training.max_updates=3", "training.batch_size=8", "training.checkpoint_interval=3",
         "training.progress_bar=false"])  # fmt: skip
    shapes = root / "data" / "shapes"
    records = [json.loads(line) for line in (shapes / "annotations" / "train.jsonl").open()]
    images = [(str(shapes / r["image"]), json.dumps([o["bbox"] for o in r["objects"]]))
              for r in records[:2]]  # fmt: skip
    return root / "save" / "current.ckpt", images
