"""An inline ``lm.config`` is built as written: defaults come from the merged config alone."""

import pytest
import torch
from imgtune_helpers import LM_CONFIGS, model_config
from omegaconf import OmegaConf

from mmf_imgtune.config.loader import build_config, merge
from mmf_imgtune.models.imgtune import ImgTune

# What each architecture's HF config must hold: (width, positions) under its own names.
SIZES = {"llama": ("hidden_size", "max_position_embeddings"), "gpt2": ("n_embd", "n_positions")}


@pytest.mark.parametrize("lm", ["gpt2", "llama"])
def test_inline_config_is_built_as_written_and_guards_its_own_context(lm):
    written = LM_CONFIGS[lm]
    config = ImgTune.default_config(model_config(lm))
    assert OmegaConf.to_container(config.lm.config) == written  # no Llama default leaks in
    torch.manual_seed(0)
    model = ImgTune(config).init_from_config()
    hf = model._hf_model().config
    width, positions = SIZES[lm]
    assert hf.model_type == lm
    assert (getattr(hf, width), getattr(hf, positions)) == (written[width], written[positions])
    assert hf.max_position_embeddings == written[positions] == 128  # the defaults say 256
    limit = written[positions]
    model.check_context(torch.ones(1, limit, dtype=torch.long), visual_tokens=0)
    with pytest.raises(ValueError, match=f"needs {limit + 1} positions.*={limit}"):
        model.check_context(torch.ones(1, limit + 1, dtype=torch.long), visual_tokens=0)


def test_run_config_keeps_an_inline_gpt2_config_as_written(tmp_path):
    path = tmp_path / "gpt2.yaml"
    written = {"model_config": {"imgtune": {"lm": {"config": LM_CONFIGS["gpt2"]}}}}
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(written)))
    config = build_config([f"config={path}", "model=imgtune", "dataset=toy"])
    assert OmegaConf.to_container(config.model_config.imgtune.lm.config) == LM_CONFIGS["gpt2"]


def test_a_config_without_model_type_still_changes_single_keys():
    defaults = ImgTune.default_config()
    merged = merge(defaults, {"lm": {"config": {"num_hidden_layers": 3}}})
    expected = {**OmegaConf.to_container(defaults.lm.config), "num_hidden_layers": 3}
    assert OmegaConf.to_container(merged.lm.config) == expected
    assert defaults.lm.config.num_hidden_layers == 2  # the layer below is not changed


@pytest.mark.parametrize(
    "fusion, prefix, cross", [("prefix", True, False), ("cross_attention", False, True),
                              ("both", True, True)]
)  # fmt: skip
def test_fusion_flags(fusion, prefix, cross):
    model = ImgTune(ImgTune.default_config({"fusion": fusion}))
    assert (model.uses_prefix, model.uses_cross_attention) == (prefix, cross)
