"""``imgtune``: region features fused into a Hugging Face causal LLM.

Fusion modes (``fusion``): ``prefix`` prepends projected visual tokens to the text embeddings
(LLaVA, arXiv 2304.08485; BLIP-2's OPT recipe, arXiv 2301.12597: project, prepend via
``inputs_embeds``, extend the attention mask, labels -100 on the prefix); ``cross_attention``
inserts tanh-gated cross-attention before every k-th decoder layer (Flamingo, arXiv 2204.14198);
``both`` does both. Tasks (``task``): see ``heads.py``. Components: ``lm.py`` (LLM factory,
LoRA, freezing), ``mmf_imgtune.modules.fusion`` (region encoder, resampler, gated blocks),
``generation.py`` (greedy / beam decoding).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import torch
from omegaconf import OmegaConf

from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.imgtune import (
    heads,  # noqa: F401  (registers the task heads)
    hf_format,
)
from mmf_imgtune.models.imgtune import lm as lm_lib
from mmf_imgtune.models.imgtune.generation import (
    argmax,
    beam_decode,
    decode_tokens,
    greedy_decode,
)
from mmf_imgtune.models.imgtune.online_encoder import build_online_encoder
from mmf_imgtune.models.imgtune.placement import place_visual
from mmf_imgtune.modules.fusion import RegionEncoder, visual_context
from mmf_imgtune.modules.fusion.gated_xattn import GatedCrossAttentionBlock, XAttnDecoderLayer
from mmf_imgtune.registry import registry

FUSION_MODES = ("prefix", "cross_attention", "both")


def _per_row(position: torch.Tensor | None, repeat: int) -> torch.Tensor | None:
    """(B,) image positions repeated per beam (B * repeat,)."""
    return None if position is None else position.repeat_interleave(repeat, 0)


@registry.register_model("imgtune")
class ImgTune(BaseModel):
    """Args:
    config: ``model_config.imgtune`` as the run config holds it, defaults merged in (for a
        partial config: ``ImgTune.default_config(partial)``).
    """

    def __init__(self, config: Any):
        if OmegaConf.is_config(config):
            # Resolve against the run config: interpolations such as
            # ${dataset_config.shapes.num_answers} cannot resolve inside a detached copy.
            config = OmegaConf.to_container(config, resolve=True)
        super().__init__(config)

    @property
    def uses_prefix(self) -> bool:
        """Visual tokens are prepended to the text (``fusion``: prefix or both)."""
        return self.config.fusion in ("prefix", "both")

    @property
    def uses_cross_attention(self) -> bool:
        """Gated cross-attention blocks read the visual tokens (cross_attention or both)."""
        return self.config.fusion in ("cross_attention", "both")

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/imgtune/defaults.yaml"

    @classmethod
    def from_pretrained(cls, folder: str, device: str | torch.device = "cpu") -> ImgTune:
        """The model of an ``mmf_imgtune_export`` folder (``hf_format.py``), in eval mode:
        no run folder, no run config, no Lightning."""
        return hf_format.load_pretrained(cls, folder, device)

    # --- build ---------------------------------------------------------------------------
    def build(self) -> None:
        cfg = self.config
        tasks = registry.names("task_head")
        if cfg.task not in tasks or cfg.fusion not in FUSION_MODES:
            raise ValueError(
                f"model_config.imgtune task='{cfg.task}' fusion='{cfg.fusion}'; use task in "
                f"{tasks} and fusion in {FUSION_MODES}"
            )
        head_class = registry.get_task_head_class(cfg.task)
        hf_model = lm_lib.build_lm(cfg.lm)
        self.tokenizer = self._check_tokenizer(hf_model)
        if cfg.gradient_checkpointing:
            # transformers 5 renamed the switch; the old name still works on older releases.
            enable = getattr(hf_model, "activation_checkpointing_enable", None)
            enable = enable or hf_model.gradient_checkpointing_enable
            enable({"use_reentrant": False})
        if cfg.lm_training == "lora":
            hf_model = lm_lib.apply_lora(hf_model, cfg.lm.lora)
        self.lm = hf_model
        # Keyword of the LLM's KV cache (transformers renamed it); looked up once, not per step.
        self._cache_argument = lm_lib.cache_argument(self._hf_model())
        hidden = int(self._hf_model().config.hidden_size)
        self.region_encoder = RegionEncoder.from_config(
            cfg.region_encoder, hidden, "model_config.imgtune.region_encoder"
        )
        self.xattn_layers: list = []
        if self.uses_cross_attention and not head_class.fuses_cross_attention:
            # Blocks that never run get no gradient: dead weight, and DDP would stop on them.
            warnings.warn(
                f"model_config.imgtune.fusion={cfg.fusion} does not apply to task={cfg.task} (a "
                "dual encoder: the text side runs the LLM on text alone); no cross-attention "
                "blocks are built",
                stacklevel=2,
            )
        elif self.uses_cross_attention:
            xa = cfg.cross_attention
            self.xattn_layers = lm_lib.insert_cross_attention(
                self._hf_model(),
                cfg.lm.decoder_layers_attr,
                int(xa.every),
                int(xa.num_heads),
                int(xa.ff_mult),
            )
        # Built here, after the gated blocks, so random initialisation keeps its order.
        self.head = registry.build("task_head", cfg.task, cfg, hidden)
        lm_lib.set_trainable(self, "lm", str(cfg.lm_training), list(cfg.unfreeze))
        if not self.head.uses_lm_head:
            # Classifier and retrieval heads read hidden states: the LM head never runs.
            lm_lib.freeze_output_embeddings(self._hf_model())
        if cfg.zero_image_features:
            # The zeroed prefix stays zero in the LLM: its overflowing gradient is cut there.
            lm_lib.stop_gradient_at_zero_states(self._hf_model(), cfg.lm.decoder_layers_attr)
        # Joint training: online CNN + RoIAlign features (after freezing: it has its own switch).
        self.image_encoder = build_online_encoder(cfg, int(cfg.region_encoder.feature_dim))

    def _hf_model(self) -> torch.nn.Module:
        """The HF model under any peft wrapper."""
        return self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm

    def _check_tokenizer(self, hf_model: torch.nn.Module) -> Any:
        if not self.config.tokenizer:
            return None

        tokenizer = build_tokenizer(self.config.tokenizer)
        vocab = hf_model.get_input_embeddings().num_embeddings
        if len(tokenizer) > vocab:
            if self.config.lm.name_or_path:
                # Pretrained weights: new rows are learned (tokens added to the tokenizer).
                hf_model.resize_token_embeddings(len(tokenizer))
            else:
                raise ValueError(
                    f"model_config.imgtune.lm.config.vocab_size={vocab} is smaller than the "
                    f"tokenizer's {len(tokenizer)} tokens; raise vocab_size to >= {len(tokenizer)}"
                )
        return tokenizer

    # --- shared pieces -------------------------------------------------------------------
    def encode_regions(self, sample_list: Any) -> dict[str, torch.Tensor]:
        """Visual tokens from ``image_feature_0`` / ``image_info_0``, or from the online
        ``image_encoder`` (``image_encoder.type: roi_backbone``, online_encoder.py) when the
        model has one.

        The region encoder only needs (B, N, D) features, (B,) box counts and (B, N, 5) geometry;
        without ``num_boxes`` every one of the N boxes counts as real.
        """
        encoder = getattr(self, "image_encoder", None)  # online features (online_encoder.py)
        features = sample_list["image_feature_0"] if encoder is None else encoder(sample_list)
        info = sample_list.get("image_info_0") or {}
        num_boxes = info.get("num_boxes")
        if num_boxes is None:
            num_boxes = torch.full((features.size(0),), features.size(1), device=features.device)
        param = next(self.region_encoder.parameters())
        visual = self.region_encoder(
            features.to(param.dtype), num_boxes, info.get("boxes_5d"), info.get("objects")
        )
        if self.config.get("zero_image_features"):  # text-only baseline (benchmarks)
            visual["tokens"] = torch.zeros_like(visual["tokens"])
            # Every slot real, whatever the box count: otherwise the count still reaches the
            # LM through the position ids and the attention mass of the masked slots.
            visual["mask"] = torch.ones_like(visual["mask"])
        return visual

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm.get_input_embeddings()(ids)

    def run_lm(
        self,
        embeds,
        mask,
        visual,
        record=None,
        hidden_states=False,
        attentions=False,
        past_key_values=None,
        use_cache=False,
        body_only=False,
        logits_to_keep=0,
        image_position=None,
        padded=True,
    ):
        """One LLM pass over text embeddings (B, T, H) with the configured fusion.

        ``body_only``: run the decoder without the LM head (``base_model``; the output has
        ``last_hidden_state`` (B, P + T, H) instead of logits). ``logits_to_keep``: > 0
        computes logits for the last that many positions only (decoding needs one); a 1-D
        tensor, for those positions of the sequence (training: the scored ones). With ``past_key_values`` holding earlier positions (cached generation), ``embeds`` are
        only the newest text positions while ``mask`` (B, L) still covers all the text; the
        visual prefix is already in the cache. ``image_position`` (B,): the visual tokens go
        before that text position (a dialogue's ``<image>``, ``placement.py``), not in front.
        ``padded=False`` promises that no position of any row is masked and that the context
        length was checked (both once per call, by ``generate``): ``mask`` may then be None,
        and the LLM gets no mask and counts positions from its cache, as HF's ``generate``
        does for an all-ones mask (a mask of ones would cost a device-wide check in the LLM's
        mask code, and our position count, at every decoding step).

        Returns:
            the HF output and the prefix length P (text positions start at P).
        """
        prefix = self.uses_prefix and visual is not None
        tokens, vmask = (visual["tokens"], visual["mask"]) if visual is not None else (None, None)
        cached = past_key_values is not None and past_key_values.get_seq_length() > 0
        if prefix and not cached:
            embeds = place_visual(tokens.to(embeds.dtype), embeds, image_position)  # (B, P+T, H)
        positions = None  # unpadded: 0..L-1, counted by the LLM from its cache
        if padded:
            if prefix:
                mask = place_visual(vmask.to(mask.dtype), mask, image_position)
            self.check_context(mask, tokens.size(1) if prefix else 0)
            # Positions count only real tokens, so padded boxes and pads leave no gap.
            positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)[:, -embeds.size(1) :]
        else:
            mask = None
        context = contextlib.nullcontext()
        if self.xattn_layers and visual is not None:
            repeat = embeds.size(0) // tokens.size(0)  # > 1 inside beam search
            context = visual_context(
                self.xattn_layers,
                tokens.repeat_interleave(repeat, 0),
                vmask.repeat_interleave(repeat, 0),
                record,
            )
        extra = {} if past_key_values is None else {self._cache_argument: past_key_values}
        if (torch.is_tensor(logits_to_keep) or logits_to_keep) and not body_only:
            extra["logits_to_keep"] = logits_to_keep  # skips the (L, V) LM-head matmul
        lm = self._hf_model().base_model if body_only else self.lm
        # Attention weights (explanations) need eager attention; everything else keeps sdpa.
        kernel = lm_lib.attention_kernel(self._hf_model(), need_weights=attentions)
        with context, kernel:
            out = lm(
                inputs_embeds=embeds,
                attention_mask=mask,
                position_ids=positions,
                use_cache=use_cache,
                **extra,
                output_hidden_states=hidden_states,
                output_attentions=attentions,
            )
        return out, (tokens.size(1) if prefix else 0)

    def check_context(self, mask: torch.Tensor, visual_tokens: int, new_tokens: int = 0) -> None:
        """Fail instead of running past the LLM's positions: RoPE models would not raise,
        they would silently read positions they were never trained on.

        mask: (B, L) attention mask of the LLM input (visual prefix included); positions count
        its ones, so padding does not count.
        """
        limit = getattr(self._hf_model().config, "max_position_embeddings", None)
        if limit is None or mask.size(1) + new_tokens <= int(limit):
            return  # the common case, decided without reading the mask (no GPU sync)
        length = int(mask.sum(dim=1).max())
        if length + new_tokens <= int(limit):
            return
        parts = f"text and up to {visual_tokens} visual tokens"
        if new_tokens:
            parts += f" + {new_tokens} generated (generation.max_new_tokens)"
        raise ValueError(
            f"the LLM input needs {length + new_tokens} positions ({parts}), more than its "
            f"max_position_embeddings={limit} (model_config.imgtune.lm). Lower the llm_prompt "
            "processor's max_seq_length, the dataset's max_features (or use the resampler's "
            "num_latents), or generation.max_new_tokens"
        )

    # --- forward -------------------------------------------------------------------------
    def forward(self, sample_list: Any) -> dict:
        """The task head's forward (``heads.py``) over this sample list's visual tokens."""
        return self.head.run(self, sample_list, self.encode_regions(sample_list))

    # --- generation ----------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        sample_list: Any,
        max_new_tokens: int | None = None,
        num_beams: int | None = None,
        stop_id: int | None = None,
        choose: Any = None,
        on_step: Any = None,
    ) -> list[str]:
        """Decode answers/captions from ``prompt_ids``/``prompt_mask`` (left-padded prompts).

        ``image_position`` (B,) in the sample list puts the visual tokens before that prompt
        position (a dialogue's ``<image>``) instead of in front; ``stop_id`` ends an answer
        (default: the tokenizer's EOS; a chat template's end-of-turn token). ``choose``
        (``generation.ChooseFn``) replaces greedy's argmax, e.g. by sampling; ``on_step``
        hears each step's tokens (streaming); both need ``num_beams`` 1.

        Returns:
            B strings (special tokens dropped, cut at EOS).
        """
        if self.tokenizer is None:
            raise ValueError(
                "generate needs model_config.imgtune.tokenizer (the same spec as "
                "the llm_prompt processor's) to know EOS and decode text"
            )
        cfg = self.config.generation
        max_new_tokens = int(max_new_tokens or cfg.max_new_tokens)
        num_beams = int(num_beams or cfg.num_beams)
        visual = self.encode_regions(sample_list)
        prompt = self.embed_text(sample_list["prompt_ids"])
        eos = self.tokenizer.eos_token_id if stop_id is None else int(stop_id)
        image_position = sample_list.get("image_position")

        mask = sample_list["prompt_mask"]
        if self.uses_prefix:
            full_mask, prefix = (
                torch.cat([visual["mask"].to(mask.dtype), mask], 1),
                visual["mask"].size(1),
            )
        else:
            full_mask, prefix = mask, 0
        self.check_context(full_mask, prefix, max_new_tokens)
        # One check per call (decoding only appends real tokens), not one per step.
        padded = not bool(full_mask.bool().all())
        use_cache = bool(cfg.get("use_cache", True))
        expanded_by_rows: dict[int, dict] = {}

        def step_fn(embeds: torch.Tensor, mask: torch.Tensor | None, cache: Any):
            repeat = embeds.size(0) // visual["tokens"].size(0)
            if repeat not in expanded_by_rows:  # once per beam width, not once per step
                expanded_by_rows[repeat] = {
                    k: v.repeat_interleave(repeat, 0) for k, v in visual.items()
                }
            out, _ = self.run_lm(
                embeds,
                mask,
                expanded_by_rows[repeat],
                past_key_values=cache,
                use_cache=use_cache,
                logits_to_keep=1,
                padded=padded,
                image_position=_per_row(image_position, repeat),
            )
            return out.logits[:, -1], (lm_lib.output_cache(out) if use_cache else None)

        decode_mask = mask if padded else None  # unpadded: no mask to grow at each step
        if num_beams > 1 and (choose is not None or on_step is not None):
            raise ValueError(
                f"num_beams={num_beams}: sampling (choose) and streaming (on_step) decode one "
                "beam; set num_beams=1"
            )
        if num_beams > 1:
            tokens = beam_decode(
                step_fn,
                self.embed_text,
                prompt,
                decode_mask,
                max_new_tokens,
                eos,
                num_beams,
                float(cfg.length_penalty),
                use_cache,
            )
        else:
            tokens = greedy_decode(
                step_fn,
                self.embed_text,
                prompt,
                decode_mask,
                max_new_tokens,
                eos,
                use_cache,
                choose=choose or argmax,
                on_step=on_step,
            )
        return decode_tokens(self.tokenizer, tokens, eos)

    # --- runtime hooks -------------------------------------------------------------------
    def get_optimizer_parameters(self, config: Any) -> Any:
        """Two groups: fusion/heads (lr x fusion_lr_scale) and the LLM's trainable weights."""
        fusion, llm = [], []
        for name, param in self.named_parameters():
            if param.requires_grad:
                in_llm = name.startswith("lm.") and ".xattn." not in name
                (llm if in_llm else fusion).append(param)
        scale = float(self.config.fusion_lr_scale)
        groups = [{"params": fusion, "name": "fusion"}]
        if scale != 1.0:
            config = OmegaConf.create(config) if isinstance(config, dict) else config
            groups[0]["lr"] = float(config.optimizer.params.lr) * scale
        if llm:
            groups.append({"params": llm, "name": "lm"})
        return groups

    def fsdp_wrap_classes(self) -> set[type[torch.nn.Module]]:
        """FSDP units (``training.strategy=fsdp``): the LLM's decoder layers, found through
        the same explicit path as cross-attention, and the gated cross-attention blocks."""
        layers = lm_lib.decoder_layers(self._hf_model(), self.config.lm.decoder_layers_attr)
        classes = {
            type(layer.decoder_layer if isinstance(layer, XAttnDecoderLayer) else layer)
            for layer in layers
        }
        return classes | ({GatedCrossAttentionBlock} if self.xattn_layers else set())

    def format_for_prediction(self, sample_list: Any, model_output: dict) -> list[dict] | None:
        return self.head.format_for_prediction(sample_list, model_output)
