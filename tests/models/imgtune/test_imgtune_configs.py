"""ImgTune's yaml: every default key is commented; the shapes experiment configs build."""

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from mmf_imgtune.config.loader import build_config, merge
from mmf_imgtune.models.imgtune import ImgTune

ROOT = Path(__file__).resolve().parents[3]
TASKS = {
    "vqa": "vqa_classification",
    "vqa_generation": "generation",
    "caption": "generation",
    "classification": "binary",
    "retrieval": "retrieval",
}


def test_every_default_key_is_commented():
    lines = (ROOT / "configs/models/imgtune/defaults.yaml").read_text().splitlines()
    for index, line in enumerate(lines[2:], start=2):
        if re.match(r"\s*[a-z_]+:", line):
            assert lines[index - 1].strip().startswith("#"), f"line {index + 1}: {line}"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_shapes_configs_build(name):
    config = build_config([f"config=projects/imgtune/configs/shapes/{name}.yaml"])
    assert config.model == "imgtune" and list(config.datasets) == ["shapes"]
    processor = config.dataset_config.shapes.processors.text_processor
    assert processor.type == "llm_prompt"
    model = ImgTune(config.model_config.imgtune).init_from_config()
    assert model.config.task == TASKS[name]
    assert model.lm.get_input_embeddings().num_embeddings >= len(model.tokenizer)


@pytest.mark.parametrize("variant", ["prefix", "cross_attention", "lora"])
def test_model_variants_build(variant):
    """A variant yaml merged over an experiment config builds (as `includes:` would do)."""
    base = build_config(["config=projects/imgtune/configs/shapes/vqa_generation.yaml"])
    override = OmegaConf.load(ROOT / f"configs/models/imgtune/{variant}.yaml")
    model = ImgTune(merge(base, override).model_config.imgtune).init_from_config()
    assert model.config.fusion == override.model_config.imgtune.fusion
    assert model.config.lm_training == override.model_config.imgtune.lm_training


def test_shapes_class_embedding_has_a_row_for_every_class_id():
    from mmf_imgtune.data.shapes.vocab import CLASS_NAMES, class_id

    config = build_config(["config=projects/imgtune/configs/shapes/vqa.yaml"])
    rows = config.model_config.imgtune.region_encoder.num_object_classes
    assert rows == max(class_id(*name.split()) for name in CLASS_NAMES) + 1  # ids 1..18, 0 none
