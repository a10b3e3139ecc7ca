"""``export_run``: a finished ImgTune run as a self-contained folder (``mmf_imgtune_export``).

What the folder holds and why (see ``docs/serving.md``):

- ``config.json``, ``model.safetensors``, the tokenizer files: the model, rebuilt by
  ``ImgTune.from_pretrained`` (``models/imgtune/hf_format.py``);
- ``processor_config.json``: the data set's prompt processor (template, lengths; its tokenizer
  is the folder's), ``max_features`` and, for classifier heads, the answer/label names;
- ``regions.json``: the extraction record of the training store (backend, weights identity
  and sha256, layer, input size, box sources) plus ``max_features`` and ``feature_dim``, so
  ``mmf_imgtune.pipeline`` makes a raw image's regions as the training features were made; a
  weights or config file it names is copied under ``regions/``;
- ``lm/``: the LLM alone as a plain Hugging Face folder (LoRA merged with ``merge_lora``, the
  gated cross-attention blocks left out: they live in ``model.safetensors``), or
  ``lm_adapter/``: the PEFT adapter folder when LoRA stays unmerged;
- ``README.md``: a model card (task, data, metrics of ``metrics.json``, the training command).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from safetensors.torch import save_model

from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.inference.model_card import model_card
from mmf_imgtune.inference.regions import training_store
from mmf_imgtune.io.atomic import atomic_write
from mmf_imgtune.models.imgtune import hf_format
from mmf_imgtune.models.imgtune import lm as lm_lib
from mmf_imgtune.models.imgtune.model import ImgTune
from mmf_imgtune.modules.fusion.gated_xattn import XAttnDecoderLayer
from mmf_imgtune.trainer.load_run import LoadedRun, load_run
from mmf_imgtune.version import __version__

PROCESSOR_FILE = "processor_config.json"
REGIONS_FILE = "regions.json"
PROMPT_PROCESSORS = ("llm_prompt", "chat_prompt")


class ExportError(MMFImgtuneError, ValueError):
    """The run cannot be exported as asked; the message names the key or file."""


def _write_json(path: Path, value: Any) -> None:
    data = (json.dumps(value, indent=1, sort_keys=False) + "\n").encode()
    atomic_write(path, data)


def prompt_processor(run: LoadedRun, portable: bool = True) -> dict | None:
    """The data set's prompt processor spec (``{"type", "params"}``), or None; ``portable``:
    its tokenizer is the export folder's."""
    specs = run.config.dataset_config[run.dataset].get("processors") or {}
    for spec in specs.values():
        if spec is not None and spec.get("type") in PROMPT_PROCESSORS:
            spec = OmegaConf.to_container(spec, resolve=True)
            if portable:
                spec["params"]["tokenizer"] = {"name_or_path": hf_format.HERE}
            return spec
    return None


def label_names(run: LoadedRun, task: str) -> list[str] | None:
    """The class names a classifier head's scores index (None for other heads)."""
    if task == "binary":
        return ["false", "true"]
    if task not in ("vqa_classification", "classification"):
        return None
    from mmf_imgtune.registry import registry

    dataset_config = run.config.dataset_config[run.dataset]
    builder = registry.get_builder_class(run.dataset)()
    dataset = builder.load(dataset_config, "test")
    vocab = getattr(dataset, "answer_vocab", None) or getattr(dataset, "vocab", None)
    names = getattr(vocab, "answers", None) or getattr(dataset, "label_names", None)
    if names is None:
        raise ExportError(
            f"task={task}: the {run.dataset} data set exposes no answer vocabulary "
            "(answer_vocab.answers) or label_names; the export could not name its classes"
        )
    return [str(name) for name in names]


def _regions(run: LoadedRun, out: Path) -> dict:
    """regions.json: the training store's record, with weight files copied beside it."""
    dataset_config = run.config.dataset_config[run.dataset]
    model_config = run.config.model_config[run.config.model]
    path, key, record = training_store(run.dataset, dataset_config, run.save_dir)
    if record is None:
        raise ExportError(
            f"the training store {path} ({key}) has no extraction record (written before stores "
            "kept one): re-extract it with mmf_imgtune_extract so the export can say how its "
            "regions were made"
        )
    record = json.loads(json.dumps(record))  # a plain copy
    for field in ("weights", "config_file"):
        entry = record.get(field) or {}
        source = entry.get("path")
        if source and os.path.isfile(source):
            target = out / "regions" / os.path.basename(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            relative = str(target.relative_to(out))
            entry.update(path=relative, argument=relative)
    return {
        **record,
        "max_features": int(dataset_config.get("max_features") or 0),
        "model_feature_dim": int(model_config.region_encoder.feature_dim),
        "trained_on": {"store": str(path), "config_key": key},
    }


def _save_plain_lm(model: ImgTune, folder: Path) -> None:
    """The LLM alone as a plain HF folder: gated cross-attention wrappers taken out.

    Saved from a fresh model of the same config: one loaded from a GGUF file keeps its
    quantizer, which refuses ``save_pretrained`` although its weights are plain tensors."""
    from transformers import AutoModelForCausalLM  # lazy: as everywhere an LLM is built

    hf_model = model._hf_model()
    layers = lm_lib.decoder_layers(hf_model, model.config.lm.decoder_layers_attr)
    wrapped = {i: layer for i, layer in enumerate(layers) if isinstance(layer, XAttnDecoderLayer)}
    for index, wrapper in wrapped.items():
        layers[index] = wrapper.decoder_layer
    try:
        state = hf_model.state_dict()
    finally:
        for index, wrapper in wrapped.items():
            layers[index] = wrapper
    config = copy.deepcopy(hf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(state, strict=True)
    plain.save_pretrained(folder)
    if model.tokenizer is not None:
        model.tokenizer.save_pretrained(folder)


def trained_precision(save_dir: Path) -> str | None:
    """The precision the run resolved (``training.precision: auto`` included), from its
    ``metrics.json``; None where the run recorded none."""
    path = save_dir / "metrics.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("precision")


def export_run(path: str | os.PathLike, out: str | os.PathLike, merge_lora: bool = False) -> Path:
    """Write the export folder of a run folder or checkpoint; returns the folder.

    Raises:
        ExportError: not an ImgTune run, ``merge_lora`` without LoRA, a store without record.
    """
    out = Path(out)
    run = load_run(path, "cpu")
    model = run.model
    if not isinstance(model, ImgTune):
        raise ExportError(
            f"{path}: model={run.config.model} is not imgtune; only ImgTune runs export"
        )
    config = OmegaConf.to_container(model.config, resolve=True)
    lora = config["lm_training"] == "lora"
    if merge_lora and not lora:
        raise ExportError(
            f"--merge-lora: model_config.imgtune.lm_training={config['lm_training']}, not lora: "
            "there are no adapters to merge"
        )
    precision = trained_precision(Path(run.save_dir))
    if precision is not None and "16" in precision:
        print(
            f"mmf_imgtune_export: the run trained and evaluated in {precision}; the export decodes "
            "in float32, so a token at a near-tie can differ from the run's predictions",
            file=sys.stderr,
        )
    out.mkdir(parents=True, exist_ok=True)
    if merge_lora:
        model.lm = model.lm.merge_and_unload()
    portable = hf_format.portable_config(config, model._hf_model(), lora_merged=merge_lora)
    _write_json(
        out / hf_format.CONFIG_FILE,
        {
            "architectures": ["ImgTune"],
            "model_type": hf_format.MODEL_TYPE,
            "lora": ("merged" if merge_lora else "adapter") if lora else None,
            "mmf_imgtune_version": __version__,
            "trained_precision": precision,  # what the run computed in (the export: float32)
            "imgtune": portable,
        },
    )
    weights = out / hf_format.WEIGHTS_FILE
    save_model(model, str(weights), metadata={"format": "pt"})
    umask = os.umask(0)
    os.umask(umask)
    weights.chmod(0o666 & ~umask)  # safetensors writes 0600; the folder is meant to be shared
    if model.tokenizer is not None:
        model.tokenizer.save_pretrained(out)
    dataset_config = run.config.dataset_config[run.dataset]
    _write_json(
        out / PROCESSOR_FILE,
        {
            "dataset": run.dataset,
            "task": str(dataset_config.get("task", "")),
            "text_processor": prompt_processor(run),
            "max_features": int(dataset_config.get("max_features") or 0),
            "labels": label_names(run, config["task"]),
        },
    )
    regions = _regions(run, out) if getattr(model, "image_encoder", None) is None else None
    _write_json(out / REGIONS_FILE, regions or {"online_encoder": config["image_encoder"]})
    if lora and not merge_lora:
        model.lm.save_pretrained(out / "lm_adapter")
    else:
        _save_plain_lm(model, out / "lm")
    card = model_card(run, out, regions, merge_lora)
    atomic_write(out / "README.md", card)
    return out
