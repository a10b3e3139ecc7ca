"""The language model side of ImgTune: build any HF causal LM, insert cross-attention, LoRA,
freezing.

Access to the LLM goes only through public HF APIs (``AutoModelForCausalLM``,
``get_input_embeddings()``, ``config.hidden_size``, ``inputs_embeds=``) plus one explicit path
to the decoder-layer list, from ``lm.decoder_layers_attr`` or the table below keyed by
``config.model_type`` (never by class name). Cross-attention is inserted by replacing entries of
that ``nn.ModuleList`` with ``XAttnDecoderLayer`` wrappers (open_flamingo's layout, no patched
HF class).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from mmf_imgtune.modules.fusion.gated_xattn import GatedCrossAttentionBlock, XAttnDecoderLayer

logger = logging.getLogger(__name__)

# Where each architecture keeps its decoder layers (an nn.ModuleList), by config.model_type.
DECODER_LAYERS = {
    "llama": "model.layers",
    "mistral": "model.layers",
    "qwen2": "model.layers",
    "qwen3": "model.layers",
    "gemma": "model.layers",
    "gemma2": "model.layers",
    "phi3": "model.layers",
    "olmo": "model.layers",
    "gpt2": "transformer.h",
    "gpt_neo": "transformer.h",
    "gptj": "transformer.h",
    "bloom": "transformer.h",
    "falcon": "transformer.h",
    "gpt_neox": "gpt_neox.layers",
    "opt": "model.decoder.layers",
}
# LoRA target modules when lm.lora.target_modules is null, by config.model_type.
LORA_TARGETS = {"gpt2": ["c_attn"], "gpt_neox": ["query_key_value"], "bloom": ["query_key_value"]}
DEFAULT_LORA_TARGETS = ["q_proj", "v_proj"]
TRAINING_MODES = ("frozen", "lora", "full")


def build_lm(config: Any) -> nn.Module:
    """A causal LM from ``model_config.imgtune.lm``.

    ``name_or_path`` (+ ``gguf_file``) loads weights with ``from_pretrained``; otherwise
    ``config`` (a dict with ``model_type`` and sizes) builds a randomly initialised model.
    """
    # lazy: transformers' model classes load when an LLM is built, not at import
    from transformers import AutoConfig, AutoModelForCausalLM

    kwargs = (
        {"attn_implementation": config.attn_implementation} if config.attn_implementation else {}
    )
    if config.name_or_path:
        if config.gguf_file:
            kwargs["gguf_file"] = config.gguf_file
        return AutoModelForCausalLM.from_pretrained(config.name_or_path, **kwargs)
    if not config.config or "model_type" not in config.config:
        raise KeyError(
            "model_config.imgtune.lm needs 'name_or_path' (HF name or folder) or an inline "
            "'config' with 'model_type' (e.g. {model_type: llama, hidden_size: 64, ...})"
        )
    spec = OmegaConf.to_container(config.config, resolve=True)
    lm_config = AutoConfig.for_model(spec.pop("model_type"), **spec)
    return AutoModelForCausalLM.from_config(lm_config, **kwargs)


@contextlib.contextmanager
def attention_kernel(hf_model: nn.Module, need_weights: bool) -> Iterator[str]:
    """Run the block with an attention kernel that can return weights when ``need_weights``.

    The configured kernel (``lm.attn_implementation``, sdpa by default) never materialises the
    (S, S) attention matrix, so it cannot return it; explanations need that matrix. Switching
    to eager for their one pass (``set_attn_implementation``, a public HF API) keeps sdpa for
    training and generation without a config override. The kernel is restored afterwards,
    also when the block raises.

    Yields:
        the kernel the block runs with.
    """
    current = getattr(hf_model.config, "_attn_implementation", None) or "eager"
    if not need_weights or current == "eager":
        yield current
        return
    setter = getattr(hf_model, "set_attn_implementation", None) or _config_kernel_setter(hf_model)
    setter("eager")
    try:
        yield "eager"
    finally:
        setter(current)


def _config_kernel_setter(hf_model: nn.Module):
    """transformers 4.x has no ``set_attn_implementation``; its attention layers read the
    kernel from their config at every forward, so setting it on each config switches it."""
    configs = {id(m.config): m.config for m in hf_model.modules() if hasattr(m, "config")}
    configs = [c for c in configs.values() if hasattr(c, "_attn_implementation")]

    def set_kernel(kernel: str) -> None:
        for config in configs:
            config._attn_implementation = kernel

    return set_kernel


def get_path(module: nn.Module, path: str) -> Any:
    node = module
    for part in path.split("."):
        if not hasattr(node, part):
            raise AttributeError(
                f"lm.decoder_layers_attr '{path}' has no '{part}' on {type(node).__name__}; "
                "set model_config.imgtune.lm.decoder_layers_attr to the decoder-layer list path"
            )
        node = getattr(node, part)
    return node


def decoder_layers(hf_model: nn.Module, path: str | None) -> nn.ModuleList:
    """The decoder-layer list of an (un-peft-wrapped) HF causal LM."""
    model_type = hf_model.config.model_type
    path = path or DECODER_LAYERS.get(model_type)
    if path is None:
        raise KeyError(
            f"No decoder-layer path known for model_type '{model_type}'; set "
            "model_config.imgtune.lm.decoder_layers_attr (e.g. model.layers). Known: "
            f"{sorted(DECODER_LAYERS)}"
        )
    layers = get_path(hf_model, path)
    if not isinstance(layers, nn.ModuleList):
        raise TypeError(
            f"lm.decoder_layers_attr '{path}' is a {type(layers).__name__}, not a ModuleList"
        )
    return layers


def insert_cross_attention(
    hf_model: nn.Module, path: str | None, every: int, num_heads: int, ff_mult: int
) -> list[XAttnDecoderLayer]:
    """Wrap every ``every``-th decoder layer (counting from the first) with a gated block.

    Returns:
        the wrappers, in layer order.
    """
    if every < 1:
        raise ValueError(f"model_config.imgtune.cross_attention.every must be >= 1, got {every}")
    layers = decoder_layers(hf_model, path)
    dim = int(hf_model.config.hidden_size)
    wrappers = []
    for index in range(0, len(layers), every):
        wrapper = XAttnDecoderLayer(
            layers[index], GatedCrossAttentionBlock(dim, num_heads, ff_mult)
        )
        layers[index] = wrapper
        wrappers.append(wrapper)
    return wrappers


def apply_lora(hf_model: nn.Module, config: Any) -> nn.Module:
    """Wrap with peft LoRA from ``lm.lora`` (r, alpha, dropout, target_modules, layers)."""
    # lazy: peft loads only for lm_training=lora
    from peft import LoraConfig, get_peft_model

    model_type = hf_model.config.model_type
    targets = config.target_modules
    targets = list(targets) if targets else LORA_TARGETS.get(model_type, DEFAULT_LORA_TARGETS)
    lora_config = LoraConfig(
        r=int(config.r),
        lora_alpha=int(config.alpha),
        lora_dropout=float(config.dropout),
        target_modules=targets,
        layers_to_transform=list(config.layers) if config.layers else None,
        fan_in_fan_out=model_type == "gpt2",  # GPT-2 stores attention weights as Conv1D
        bias="none",
    )
    return get_peft_model(hf_model, lora_config)


def set_trainable(model: nn.Module, lm_prefix: str, mode: str, unfreeze: list[str]) -> int:
    """Freeze all, then unfreeze by name; log and check the trainable count.

    Args:
        model: the whole ImgTune model.
        lm_prefix: attribute name of the LLM inside ``model`` (e.g. ``lm``).
        mode: ``frozen`` (fusion only), ``lora`` (adapters + fusion), ``full``.
        unfreeze: extra name substrings to train (e.g. ``lm_head``).

    Returns:
        the number of trainable parameters.
    """
    if mode not in TRAINING_MODES:
        raise ValueError(
            f"model_config.imgtune.lm_training is '{mode}'; use one of {TRAINING_MODES}"
        )
    for param in model.parameters():
        param.requires_grad_(False)
    for name, param in model.named_parameters():
        in_lm = name.startswith(lm_prefix + ".")
        fusion = not in_lm or ".xattn." in name
        if (
            fusion
            or mode == "full"
            or (mode == "lora" and "lora_" in name)
            or any(key in name for key in unfreeze)
        ):
            param.requires_grad_(True)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lm_trainable = sum(
        p.numel()
        for n, p in model.named_parameters()
        if p.requires_grad and n.startswith(lm_prefix + ".") and ".xattn." not in n
    )
    if trainable == 0:
        raise RuntimeError("ImgTune has no trainable parameters; check lm_training and unfreeze")
    if mode == "lora" and lm_trainable == 0:
        raise RuntimeError(
            "lm_training=lora but no LoRA parameter was created; check lm.lora.target_modules"
        )
    logger.info(
        "ImgTune trainable parameters: %d of %d (%.2f%%), of which LLM %d (lm_training=%s)",
        trainable,
        total,
        100.0 * trainable / max(1, total),
        lm_trainable,
        mode,
    )
    return trainable


def freeze_output_embeddings(hf_model: nn.Module) -> None:
    """Freeze the LM head of a model that never calls it (classifier and retrieval tasks).

    A trainable parameter that gets no gradient makes DDP fail at the next step, and costs
    optimizer state for nothing. A head tied to the input embeddings stays trainable: the
    input side uses (and trains) the same tensor.
    """
    head = hf_model.get_output_embeddings()
    if head is None:
        return
    inputs = {id(p) for p in hf_model.get_input_embeddings().parameters()}
    for param in head.parameters():
        if id(param) not in inputs:
            param.requires_grad_(False)


def cache_argument(hf_model: nn.Module) -> str:
    """The name under which ``hf_model.forward`` takes its KV cache: ``cache`` since
    transformers 5.24, ``past_key_values`` before (an unknown keyword would be swallowed by
    ``**kwargs`` and the cache silently ignored)."""
    parameters = inspect.signature(hf_model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def output_cache(output: Any) -> Any:
    """The KV cache an HF model output returns, under either name."""
    cache = getattr(output, "cache", None)
    cache = cache if cache is not None else getattr(output, "past_key_values", None)
    if isinstance(cache, tuple):
        # transformers 4.x GPT-2 hands back the legacy tuple of (key, value) pairs when it was
        # given no cache object; the decoding loop needs a Cache (get_seq_length, reorder).
        from transformers import DynamicCache

        cache = DynamicCache.from_legacy_cache(cache)
    return cache


def _stop_gradient_at_zero_states(module: nn.Module, args: tuple, kwargs: dict) -> Any:
    # Forward pre-hook of a decoder layer: positions whose hidden state is exactly zero get
    # it detached (see stop_gradient_at_zero_states for why this loses no gradient).
    hidden = args[0] if args else kwargs.get("hidden_states")
    if hidden is None or not hidden.requires_grad:
        return None
    zero = (hidden == 0).all(dim=-1, keepdim=True)  # (B, L, 1) all-zero positions
    hidden = torch.where(zero, hidden.detach(), hidden)
    if args:
        return (hidden, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": hidden}


def stop_gradient_at_zero_states(hf_model: nn.Module, path: str | None) -> list[Any]:
    """Keep the gradient finite when zero vectors enter the LLM (the text-only control).

    A zeroed visual prefix stays exactly zero through every layer of a bias-free LLM (Llama,
    SmolLM2: norm(0) = 0, attention over zero values and MLP(0) are 0), for every value of the
    weights. The loss's true gradient at those positions is nonetheless huge: an RMSNorm's
    Jacobian at the zero vector is ``weight / sqrt(eps)`` (about 316 for eps = 1e-5), and
    the text's attention to the prefix keys and values sends gradient into it at every layer,
    so it grows by that factor layer after layer and overflows (SmolLM2's 30 layers: inf at
    update 1, then ``inf * 0 = nan`` in the attention backward and the weight gradients).
    Its true product with the zero activations is zero, so detaching the exactly-zero states
    at each layer's input changes no weight gradient; a state made non-zero by a bias (Qwen2,
    GPT-2) is not touched.

    Returns:
        the hook handles (``handle.remove()`` undoes it).
    """
    return [
        layer.register_forward_pre_hook(_stop_gradient_at_zero_states, with_kwargs=True)
        for layer in decoder_layers(hf_model, path)
    ]
