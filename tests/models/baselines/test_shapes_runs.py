"""Baselines on the real ``shapes`` data through ``mmf_run`` (in-process): the shipped project
configs build, train a few updates and evaluate with the task's metrics."""

import pytest

from mmf_imgtune.cli.run import run

pytestmark = pytest.mark.slow

SMALL = [
    "dataset_config.shapes.sizes={train: 16, val: 8, test: 8}",
    "training.max_updates=3",
    "training.batch_size=8",
    "training.evaluation_interval=3",
    "training.checkpoint_interval=3",
    "training.log_interval=1",
    "training.progress_bar=false",
    "run_type=train_val_test",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    # Generated and feature-extracted once for the module (the slow part).
    return tmp_path_factory.mktemp("shapes_data")


@pytest.mark.parametrize(
    ("task", "model", "metric"),
    [
        ("vqa", "mmbt", "vqa_accuracy"),
        ("classification", "visual_bert", "roc_auc"),
        ("caption", "butd", "cider"),
    ],
)
def test_shapes_project_config_trains(task, model, metric, data_dir, tmp_path):
    result = run(
        [
            f"config=projects/baselines/configs/shapes/{task}.yaml",
            f"model={model}",
            "dataset=shapes",
            f"env.data_dir={data_dir}",
            f"env.save_dir={tmp_path}",
            *SMALL,
        ]
    )
    assert result["num_updates"] == 3
    value = result["metrics"][f"test/shapes/{metric}"]
    assert 0.0 <= value <= 10.0  # CIDEr may exceed 1; the others are fractions
