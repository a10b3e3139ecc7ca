"""Feature stores are checked against the model's ``feature_dim`` before training starts."""

import pytest
from mmf_layouts import tokenizer_overrides, write_image, write_jsonl
from omegaconf import OmegaConf

from mmf_imgtune.cli.run import run
from mmf_imgtune.config import ConfigError
from mmf_imgtune.trainer.feature_check import model_feature_dim
from mmf_imgtune.trainer.lightning_module import MMFLightningModule

NAME = "image_text_jsonl"


@pytest.mark.parametrize(
    ("model", "model_config", "expected"),
    [
        ("imgtune", {"region_encoder": {"feature_dim": 128}, "image_encoder": {"type": None}},
         ("model_config.imgtune.region_encoder.feature_dim", 128)),
        ("imgtune", {"region_encoder": {"feature_dim": 128},
                     "image_encoder": {"type": "roi_backbone"}}, None),
        ("mmbt", {"image_encoder": {"type": "region", "feature_dim": 2048}},
         ("model_config.mmbt.image_encoder.feature_dim", 2048)),
        ("mmbt", {"image_encoder": {"type": "grid", "feature_dim": 2048}}, None),
        ("toy_classifier", {"feature_dim": 16}, ("model_config.toy_classifier.feature_dim", 16)),
    ],
)  # fmt: skip
def test_model_feature_dim_reads_the_key_that_applies(model, model_config, expected):
    config = OmegaConf.create({"model": model, "model_config": {model: model_config}})
    assert model_feature_dim(config) == expected


def test_a_store_of_another_width_fails_before_the_first_update(tmp_path, monkeypatch):
    root = tmp_path / "data" / "datasets" / NAME
    records = []
    for index in range(4):
        write_image(root / "images" / f"{index}.png", index)
        records.append({"image": f"{index}.png", "text": "a cat", "label": index % 2})
    for split in ("train", "val"):
        write_jsonl(root / f"{split}.jsonl", records)

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the feature width was checked")

    monkeypatch.setattr(MMFLightningModule, "training_step", no_training)
    prefix = f"dataset_config.{NAME}"
    with pytest.raises(ConfigError) as error:
        run(["model=toy_classifier", f"dataset={NAME}", "run_type=train_val",
             f"{prefix}.extract.min_size=32", f"{prefix}.extract.max_size=32",
             f"{prefix}.extract.progress=false", f"{prefix}.max_features=17",
             "model_config.toy_classifier.feature_dim=16", "evaluation.metrics=[accuracy]",
             "training.max_updates=2", "training.batch_size=2", "training.progress_bar=false",
             *tokenizer_overrides(NAME)])  # fmt: skip
    message = str(error.value)
    assert f"{prefix}.features.train" in message and "holds 128-d region features" in message
    assert "model_config.toy_classifier.feature_dim is 16" in message
    assert "Set model_config.toy_classifier.feature_dim=128" in message
    assert "layer 'mid'" in message  # the store's record says how it was made
