"""FSDP shards by block: ImgTune's decoder layers and cross-attention blocks, a baseline's
Hugging Face layers (``_no_split_modules``); a model with no block is refused in one line."""

import pytest
from baseline_helpers import build as build_baseline
from imgtune_helpers import build as build_imgtune

from mmf_imgtune.trainer.fsdp import wrap_classes


def _names(model):
    return sorted(c.__name__ for c in wrap_classes(model))


def test_imgtune_units_are_decoder_layers_and_cross_attention_blocks():
    assert _names(build_imgtune(fusion="both")) == ["GatedCrossAttentionBlock", "LlamaDecoderLayer"]
    assert _names(build_imgtune("gpt2", fusion="prefix", lm_training="lora")) == ["GPT2Block"]


def test_baselines_use_the_layers_hugging_face_declares():
    assert "BertLayer" in _names(build_baseline("concat_bert"))


def test_a_model_without_blocks_is_refused():
    from mmf_imgtune.config.loader import load_yaml, resolve_path
    from mmf_imgtune.registry import registry

    model_class = registry.get_model_class("toy_classifier")
    config = load_yaml(resolve_path(model_class.config_path())).model_config.toy_classifier
    with pytest.raises(ValueError, match="training.strategy=fsdp.*fsdp_wrap_classes"):
        wrap_classes(model_class(config).init_from_config())
