"""ImgTune in a self-contained Hugging Face-style folder: the model side of the export.

A folder written by ``mmf_imgtune_export`` (``mmf_imgtune.inference.export``) holds:

- ``config.json``: ``{"architectures": ["ImgTune"], "model_type": "mmf_imgtune",
  "imgtune": <model_config.imgtune>, "lora": "merged" | "adapter" | null}``; the LLM's own HF
  config is inline under ``imgtune.lm.config`` (no hub name, no path of the training machine),
  the tokenizer is the folder's own (``{"name_or_path": "."}``);
- ``model.safetensors``: every weight of the model (LLM, adapters, fusion, head);
- the tokenizer files (``tokenizer.json``, ...).

``load_pretrained`` rebuilds the model from these alone: no run folder, no run config, no
Lightning (``models/`` imports neither ``trainer/`` nor ``inference/``). The module tree is
the training one (LoRA adapters kept unmerged unless the export merged them), so decoding
gives the checkpoint's tokens.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import torch

from mmf_imgtune.errors import MMFImgtuneError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MODEL_TYPE = "mmf_imgtune"
# Marks "this folder" in a tokenizer spec of config.json (replaced by the folder's path).
HERE = "."
# Keys of an HF config's to_dict() that describe the saved file, not the architecture.
_FILE_KEYS = ("_name_or_path", "transformers_version", "architectures")


class PretrainedFolderError(MMFImgtuneError, FileNotFoundError):
    """An export folder is missing a file or holds another kind of model; the message names it."""


def lm_inline_config(hf_model: torch.nn.Module) -> dict:
    """The LLM's HF config as the inline ``lm.config`` of ``model_config.imgtune``."""
    spec = hf_model.config.to_dict()
    for key in _FILE_KEYS:
        spec.pop(key, None)
    return spec


def portable_config(config: dict, hf_model: torch.nn.Module, lora_merged: bool) -> dict:
    """``model_config.imgtune`` (a plain dict) made to rebuild from the export folder alone.

    The LLM is described by its own config (weights come from ``model.safetensors``), the
    tokenizer is the folder's; a merged export trains nothing of the LLM (``frozen``).
    """
    config = copy.deepcopy(config)
    config["lm"]["name_or_path"] = None
    config["lm"]["gguf_file"] = None
    config["lm"]["config"] = lm_inline_config(hf_model)
    if config.get("tokenizer"):
        config["tokenizer"] = {"name_or_path": HERE}
    if lora_merged:
        config["lm_training"] = "frozen"
    # Joint training's CNN starts from its own weights file otherwise: all weights are here.
    if (config.get("image_encoder") or {}).get("type"):
        config["image_encoder"]["weights"] = "random"
    return config


def with_folder(spec: Any, folder: Path) -> Any:
    """A tokenizer spec with ``"."`` replaced by ``folder`` (nested dicts too)."""
    if isinstance(spec, dict):
        if spec.get("name_or_path") == HERE:
            return {**spec, "name_or_path": str(folder)}
        return {key: with_folder(value, folder) for key, value in spec.items()}
    return spec


def read_config(folder: str | os.PathLike) -> dict:
    """``config.json`` of an export folder, checked to be an ImgTune export."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise PretrainedFolderError(
            f"{path} does not exist: not a folder written by mmf_imgtune_export (a run folder "
            "or checkpoint opens with mmf_imgtune.pipeline or load_run instead)"
        )
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("model_type") != MODEL_TYPE or "imgtune" not in config:
        raise PretrainedFolderError(
            f"{path}: model_type is {config.get('model_type')!r}, not {MODEL_TYPE!r} with an "
            "'imgtune' section; export the run with mmf_imgtune_export"
        )
    return config


def register_config() -> None:
    """Make ``AutoConfig`` know ``model_type: mmf_imgtune`` (public ``AutoConfig.register``):
    ``AutoTokenizer.from_pretrained(folder)`` reads config.json and would warn otherwise."""
    from transformers import AutoConfig, PretrainedConfig  # lazy: loads with a model

    class ImgTuneConfig(PretrainedConfig):
        model_type = MODEL_TYPE

    try:
        AutoConfig.register(MODEL_TYPE, ImgTuneConfig)
    except ValueError:  # registered already (once per process)
        pass


def load_pretrained(model_class: type, folder: str | os.PathLike, device: Any = "cpu") -> Any:
    """Build ``model_class`` (ImgTune) from an export folder and load its weights (eval mode).

    Raises:
        PretrainedFolderError: naming the missing file or the weights that do not fit.
    """
    from safetensors.torch import load_model  # lazy: only loading an export needs it

    folder = Path(folder).resolve()
    config = read_config(folder)["imgtune"]
    config["tokenizer"] = with_folder(config.get("tokenizer"), folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise PretrainedFolderError(f"{weights} does not exist: the export is incomplete")
    register_config()
    model = model_class(config).init_from_config()
    missing, unexpected = load_model(model, str(weights), strict=False, device="cpu")
    if missing or unexpected:
        raise PretrainedFolderError(
            f"{weights} does not fit the model of {folder / CONFIG_FILE}: missing "
            f"{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    return model.to(device).eval()
