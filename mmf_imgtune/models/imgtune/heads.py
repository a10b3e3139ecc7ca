"""Task heads of ImgTune: one registered ``TaskHead`` per ``task``, owning its modules and loss.

``ImgTune.build`` makes ``model.head = registry.build("task_head", task, config, hidden)`` and
``ImgTune.forward`` calls ``model.head.run(model, sample_list, visual)`` once: the head runs
the LLM pass its task needs (``ImgTune.run_lm``), its modules and its loss.

- ``generation``: the LM head itself; teacher-forced next-token loss on answer tokens only.
- ``vqa_classification`` / ``binary`` / ``classification``: an MLP over the LLM's last-token
  hidden state (the answer-classifier recipe of MMF's VQA models; pooling the last token as in
  LLM2Vec/SGPT): soft-score BCE over ``num_answers``, or cross entropy over two classes
  (``binary``) or ``num_labels`` classes (``classification``).
- ``retrieval``: a dual encoder with CLIP's symmetric InfoNCE (Radford et al. 2021).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmf_imgtune.models.imgtune.placement import text_positions
from mmf_imgtune.modules.distributed import (
    data_parallel_rank,
    gather_with_grad,
    token_cross_entropy,
)
from mmf_imgtune.registry import registry


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hidden state of the last real token (works for left or right padding).

    Args:
        hidden: (B, T, H); mask: (B, T) 0/1.

    Returns:
        (B, H).
    """
    positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)  # (1, T)
    last = (positions * mask.long()).argmax(dim=1)  # (B,)
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, K, H) tokens, (B, K) mask -> (B, H) mean over real tokens (0 when none)."""
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, across_ranks: bool = False) -> torch.Tensor:
    """Next-token cross entropy; positions labelled -100 never count.

    Args:
        logits: (B, T, V) for the text positions; labels: (B, T), -100 on prompt/padding.
        across_ranks: average over the scored tokens of every data-parallel rank (training),
            not over this rank's alone (ranks hold different numbers of answer tokens).
    """
    return token_cross_entropy(logits[:, :-1], labels[:, 1:], across_ranks)


def text_inputs(sample_list: Any, prompt_only: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) (B, T): the left-padded prompt when asked and present, else the full text."""
    if prompt_only and "prompt_ids" in sample_list:
        return sample_list["prompt_ids"], sample_list["prompt_mask"]
    return sample_list["input_ids"], sample_list["input_mask"]


def loss_key(sample_list: Any, name: str) -> str:
    """MMF's ``{split}/{dataset}/{loss}``."""
    split = sample_list.get("dataset_type", "train")
    return f"{split}/{sample_list.get('dataset_name', 'dataset')}/{name}"


def attention_outputs(visual: dict, record: list | None) -> dict[str, Any]:
    """The output dict's start: empty losses, and the attention maps explanations read."""
    output: dict[str, Any] = {"losses": {}}
    if "region_attention" in visual:
        output["region_attention"] = visual["region_attention"].detach()
    if record is not None:
        output["xattn_attention"] = record
    return output


class TaskHead(nn.Module):
    """Base of the registered task heads (registry kind ``task_head``).

    Class attributes:
        uses_lm_head: the task reads the LM head's logits (else its output embeddings freeze).
        fuses_cross_attention: gated cross-attention blocks apply (retrieval: no).
    """

    uses_lm_head = False
    fuses_cross_attention = True

    @classmethod
    def from_config(cls, config: Any, hidden_size: int) -> TaskHead:
        """Args: config: ``model_config.imgtune``; hidden_size: the LLM's width."""
        return cls()

    def run(self, model: Any, sample_list: Any, visual: dict) -> dict:
        """The task's forward: ``{"scores", "losses", ...}`` (MMF's model output)."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    def format_for_prediction(self, sample_list: Any, model_output: dict) -> list[dict] | None:
        return None  # the dataset maps class indices to answers


@registry.register_task_head("generation")
class GenerationHead(TaskHead):
    """The LM head itself: no modules of its own; loss on the answer tokens only."""

    uses_lm_head = True

    def run(self, model: Any, sample_list: Any, visual: dict) -> dict:
        record = [] if model.config.return_attention else None
        ids, mask = text_inputs(sample_list, prompt_only=False)
        place = sample_list.get("image_position")
        # LM-head logits for the T text positions only, none for the visual prefix (the
        # (P, V) matmul over the vocabulary would be thrown away). Visual tokens spliced
        # inside the text (a dialogue's <image>) leave text on both sides: keep them all.
        keep = 0 if place is not None else ids.size(1)
        scored = None
        if model.training and keep and "labels" in sample_list:
            # Training reads logits only at the text positions whose next token is scored in
            # some row (the answers): the (positions, vocab) LM-head matmul and log-softmax
            # over the prompt and padding would be thrown away. The loss is the same.
            scored = (sample_list["labels"][:, 1:] != -100).any(0).nonzero().squeeze(1)  # (K,)
            prefix = visual["tokens"].size(1) if model.uses_prefix and visual is not None else 0
            keep = scored + prefix  # positions in the LLM's sequence (visual prefix first)
        out, prefix = model.run_lm(
            model.embed_text(ids),
            mask,
            visual,
            record,
            body_only=False,
            logits_to_keep=keep,
            image_position=place,
        )
        output = attention_outputs(visual, record)
        if scored is not None:
            output["scores"] = out.logits  # (B, K, V): the scored positions only
            labels = sample_list["labels"][:, scored + 1]  # the next token of each kept one
            output["losses"][loss_key(sample_list, "lm_cross_entropy")] = token_cross_entropy(
                out.logits, labels, across_ranks=True
            )
            return output
        if keep:
            output["scores"] = out.logits  # (B, T, V): only the text positions were computed
        else:
            output["scores"] = text_positions(out.logits, prefix, place)  # (B, T, V) text only
        if "labels" in sample_list:
            # Mean over the answer tokens of the whole global batch (all ranks), so that
            # data-parallel training takes the single-process step.
            output["losses"][loss_key(sample_list, "lm_cross_entropy")] = lm_loss(
                output["scores"], sample_list["labels"], across_ranks=model.training
            )
        if not model.training and model.config.generate_in_eval and "prompt_ids" in sample_list:
            output["generated_text"] = model.generate(sample_list)
        return output

    def format_for_prediction(self, sample_list: Any, model_output: dict) -> list[dict] | None:
        if "generated_text" not in model_output:
            return None
        key = "caption" if "captions" in sample_list else "answer"
        ids = sample_list.get("id")
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids or [])
        return [{"id": i, key: text} for i, text in zip(ids, model_output["generated_text"])]


class ClassifierHead(TaskHead):
    """(B, H) pooled state -> (B, num_outputs) logits through a two-layer MLP."""

    loss_name = "cross_entropy"

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(hidden_size),
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_outputs),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        # The head's own dtype: float32 weights in 32/mixed precision, bf16 in bf16-true.
        return self.net(pooled.to(self.net[1].weight.dtype))

    def run(self, model: Any, sample_list: Any, visual: dict) -> dict:
        record = [] if model.config.return_attention else None
        ids, mask = text_inputs(sample_list, prompt_only=True)
        # The decoder without the LM head: the head reads hidden states.
        out, prefix = model.run_lm(
            model.embed_text(ids), mask, visual, record, body_only=True, logits_to_keep=0
        )
        output = attention_outputs(visual, record)
        pooled = last_token_pool(out.last_hidden_state[:, prefix:], mask)  # (B, H)
        output["scores"] = self(pooled)
        if "targets" in sample_list:
            output["losses"] = self.loss(sample_list, output["scores"])
        return output

    def check_targets(self, targets: torch.Tensor, scores: torch.Tensor) -> None:
        """Raise when ``targets`` do not fit the loss (subclasses)."""

    def loss(self, sample_list: Any, scores: torch.Tensor) -> dict[str, torch.Tensor]:
        self.check_targets(sample_list["targets"], scores)
        loss = registry.get_loss_class(self.loss_name)()(sample_list, {"scores": scores})
        return {loss_key(sample_list, self.loss_name): loss}


@registry.register_task_head("vqa_classification")
class VQAClassifierHead(ClassifierHead):
    """Soft-score BCE over the dataset's ``num_answers`` answers."""

    loss_name = "logit_bce"

    @classmethod
    def from_config(cls, config: Any, hidden_size: int) -> VQAClassifierHead:
        if int(config.num_answers) < 1:
            raise ValueError(
                "task=vqa_classification needs model_config.imgtune.num_answers "
                "= the dataset's answer vocabulary size"
            )
        return cls(hidden_size, int(config.num_answers), float(config.dropout))

    def check_targets(self, targets: torch.Tensor, scores: torch.Tensor) -> None:
        if targets.dim() != 2 or targets.size(1) != scores.size(1):
            raise ValueError(
                f"vqa_classification needs soft targets (B, {scores.size(1)}); got "
                f"{tuple(targets.shape)}. Set model_config.imgtune.num_answers to the "
                "dataset's answer vocabulary size"
            )


@registry.register_task_head("binary")
class BinaryClassifierHead(ClassifierHead):
    """Cross entropy over two classes."""

    @classmethod
    def from_config(cls, config: Any, hidden_size: int) -> BinaryClassifierHead:
        return cls(hidden_size, 2, float(config.dropout))


@registry.register_task_head("classification")
class MultiClassifierHead(ClassifierHead):
    """Cross entropy over the dataset's ``num_labels`` classes."""

    @classmethod
    def from_config(cls, config: Any, hidden_size: int) -> MultiClassifierHead:
        if int(config.num_labels) < 2:
            raise ValueError(
                f"task=classification needs model_config.imgtune.num_labels >= 2 (the "
                f"dataset's number of classes); got {config.num_labels}"
            )
        return cls(hidden_size, int(config.num_labels), float(config.dropout))


@registry.register_task_head("retrieval")
class RetrievalHead(TaskHead):
    """Projects pooled image and text states into one normalised space (a dual encoder).

    Args:
        hidden_size: LLM width; embed_dim: joint space width; temperature: initial softmax
        temperature (learned, as in CLIP).
    """

    # The text side runs the LLM on text alone: gated blocks would never run.
    fuses_cross_attention = False

    def __init__(self, hidden_size: int, embed_dim: int, temperature: float):
        super().__init__()
        self.image_proj = nn.Linear(hidden_size, embed_dim)
        self.text_proj = nn.Linear(hidden_size, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    @classmethod
    def from_config(cls, config: Any, hidden_size: int) -> RetrievalHead:
        retrieval = config.retrieval
        return cls(hidden_size, int(retrieval.embed_dim), float(retrieval.temperature))

    def run(self, model: Any, sample_list: Any, visual: dict) -> dict:
        ids, mask = text_inputs(sample_list, prompt_only=True)
        # Dual encoder: the text side runs the LLM on text alone, without visual tokens.
        out, _ = model.run_lm(model.embed_text(ids), mask, None, body_only=True)
        text = last_token_pool(out.last_hidden_state, mask)
        image = masked_mean(visual["tokens"], visual["mask"])
        # Training contrasts against the negatives of every rank (the global batch).
        result = self(image, text, across_ranks=model.training)
        loss = result.pop("loss")
        return {**result, "losses": {loss_key(sample_list, "info_nce"): loss}}

    def forward(
        self, image: torch.Tensor, text: torch.Tensor, across_ranks: bool = False
    ) -> dict[str, torch.Tensor]:
        """Args:
            image: (B, H) pooled visual tokens; text: (B, H) pooled text state.
            across_ranks: contrast against the samples of every data-parallel rank (the
                global batch, as one process would), not this rank's alone.

        Returns:
            ``scores`` (B, B') image-to-text logits (B' = the global batch with
            ``across_ranks``, else B), ``image_embedding``/``text_embedding`` (B, E) unit
            vectors, ``loss`` the symmetric InfoNCE over the (global) batch.
        """
        dtype = self.image_proj.weight.dtype  # bf16 in bf16-true; the similarities in fp32
        image = F.normalize(self.image_proj(image.to(dtype)).float(), dim=-1)
        text = F.normalize(self.text_proj(text.to(dtype)).float(), dim=-1)
        all_image = gather_with_grad(image) if across_ranks else image  # (B', E)
        all_text = gather_with_grad(text) if across_ranks else text
        scale = self.logit_scale.float().exp().clamp(max=100)
        logits = scale * all_image @ all_text.t()  # (B', B')
        target = torch.arange(logits.size(0), device=logits.device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
        start = data_parallel_rank() * image.size(0) if across_ranks else 0
        scores = logits[start : start + image.size(0)]  # (B, B') this rank's images
        return {"scores": scores, "image_embedding": image, "text_embedding": text, "loss": loss}
