"""Every baseline trains a few steps through ``mmf_run`` (in-process) on the toy data set."""

import json

import pytest

from mmf_imgtune.cli.run import run
from mmf_imgtune.utils.testing import last_logged

# A few updates on a few samples: this checks wiring, not learning (see docs/baselines.md).
SHORT_RUN = [
    "training.max_updates=4",
    "training.batch_size=8",
    "training.evaluation_interval=2",
    "training.checkpoint_interval=4",
    "training.log_interval=2",
    "training.progress_bar=false",
    "dataset_config.toy.sizes={train: 64, val: 32, test: 32}",
]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "name", ["unimodal_text", "unimodal_image", "late_fusion", "concat_bert", "mmbt", "visual_bert"]
)
def test_baseline_trains_through_mmf_run(name, tmp_path):
    save = tmp_path / "run"
    result = run(
        [
            f"config=projects/baselines/configs/toy/{name}.yaml",
            f"model={name}",
            "dataset=toy",
            "run_type=train_val_test",
            f"env.save_dir={save}",
            *SHORT_RUN,
        ]
    )
    assert result["num_updates"] == 4
    assert result["trainable_parameters"] == result["parameters"] > 0
    for key in ("val/toy/accuracy", "test/toy/roc_auc", "test/toy/binary_f1"):
        assert result["metrics"][key] == pytest.approx(last_logged(save, key), rel=1e-6), key
    correct = result["metrics"]["val/toy/accuracy"] * 32  # one count over the 32 val samples
    assert correct == pytest.approx(round(correct), abs=1e-4)
    written = json.loads((save / "metrics.json").read_text())
    assert written["metrics"] == result["metrics"]
    assert (save / "current.ckpt").is_file()
