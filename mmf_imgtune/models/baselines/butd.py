"""``butd``: the Bottom-Up Top-Down captioner (Anderson et al. 2018, arXiv 1707.07998), MMF's
non-LLM captioning baseline.

Two LSTMs per step: the top-down *attention* LSTM reads [language h; mean region; word], then
attends over the regions (padded ones masked); the *language* LSTM reads [attended region;
attention h] and predicts the next word. Training is teacher-forced; evaluation also decodes
greedily and returns ``generated_text`` for BLEU/CIDEr.

Tokens: ``input_ids`` (B, T) is the caption sequence (e.g. ``[CLS] words [SEP]`` from
``text_tokenizer``, or prompt + answer + eos for LLM-style datasets); ``labels`` (-100 on
prompt and padding), when present, marks which positions are scored, otherwise padding
(``input_mask`` = 0) is ignored. Generation is primed with ``prompt_ids``/``prompt_mask``
when the batch has them, else with the first token of ``input_ids`` (the BOS/[CLS]).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.models.base_model import BaseModel
from mmf_imgtune.models.baselines.encoders import build_image_encoder, masked_mean
from mmf_imgtune.modules.distributed import token_cross_entropy
from mmf_imgtune.registry import registry

State = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class TopDownStep(nn.Module):
    """One decoding step. Args: widths of regions, words, LSTMs and attention, vocab size."""

    def __init__(self, region_dim: int, embed_dim: int, hidden: int, attention: int, vocab: int):
        super().__init__()
        self.attention_lstm = nn.LSTMCell(hidden + region_dim + embed_dim, hidden)
        self.language_lstm = nn.LSTMCell(region_dim + hidden, hidden)
        self.region_key = nn.Linear(region_dim, attention)
        self.query = nn.Linear(hidden, attention)
        self.score = nn.Linear(attention, 1)
        self.output = nn.Linear(hidden, vocab)

    def forward(
        self,
        word: torch.Tensor,
        regions: torch.Tensor,
        mean_region: torch.Tensor,
        mask: torch.Tensor,
        keys: torch.Tensor,
        state: State,
    ) -> State:
        """word: (B, E); regions: (B, N, D); mean_region: (B, D); mask: (B, N); keys: (B, N, A)
        = ``region_key(regions)``, the same at every step, so computed once by the caller.

        Returns: the new (h_att, c_att, h_lang, c_lang); ``output(h_lang)`` gives the logits.
        """
        h_att, c_att, h_lang, c_lang = state
        h_att, c_att = self.attention_lstm(
            torch.cat([h_lang, mean_region, word], -1), (h_att, c_att)
        )
        energy = self.score(torch.tanh(keys + self.query(h_att).unsqueeze(1)))
        energy = energy.squeeze(-1).masked_fill(mask == 0, torch.finfo(energy.dtype).min)
        attended = (energy.softmax(-1).unsqueeze(-1) * regions).sum(1)  # (B, D)
        h_lang, c_lang = self.language_lstm(torch.cat([attended, h_att], -1), (h_lang, c_lang))
        return h_att, c_att, h_lang, c_lang


@registry.register_model("butd")
class BUTD(BaseModel):
    """Returns ``losses``; in eval mode also ``scores`` (B, T-1, V) and ``generated_text``
    (training projects only the scored positions onto the vocabulary: see ``forward``)."""

    @classmethod
    def config_path(cls) -> str:
        return "configs/models/butd/defaults.yaml"

    def build(self) -> None:
        cfg = self.config
        self.tokenizer = build_tokenizer(cfg.tokenizer)
        vocab = len(self.tokenizer)
        self.stop_ids = [
            i for i in (self.tokenizer.eos_token_id, self.tokenizer.sep_token_id) if i is not None
        ]
        self.image = build_image_encoder(cfg)
        self.hidden = int(cfg.hidden_size)
        self.embed = nn.Embedding(vocab, int(cfg.embed_dim))
        self.dropout = nn.Dropout(float(cfg.dropout))
        self.step = TopDownStep(
            self.image.out_dim, int(cfg.embed_dim), self.hidden, int(cfg.attention_dim), vocab
        )

    def _start(self, regions: torch.Tensor) -> State:
        zeros = regions.new_zeros(regions.size(0), self.hidden)
        return zeros, zeros, zeros, zeros

    def _regions(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple:
        """(regions, their mean, mask, attention keys): what every step reads."""
        return tokens, masked_mean(tokens, mask), mask, self.step.region_key(tokens)

    def _run(
        self, ids: torch.Tensor, regions: Any, state: State, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Feed ``ids`` (B, L) one by one. ``keep`` (B, L): steps where 0 leave the state alone
        (left padding of prompts). Returns the language LSTM's outputs (B, L, H) and the final
        state."""
        outputs = []
        for t in range(ids.size(1)):
            new_state = self.step(self.dropout(self.embed(ids[:, t])), *regions, state)
            if keep is not None:
                use = keep[:, t].bool().unsqueeze(-1)  # (B, 1)
                new_state = tuple(torch.where(use, n, o) for n, o in zip(new_state, state))
            state = new_state
            outputs.append(state[2])
        return torch.stack(outputs, 1), state

    def _targets(self, sample_list: Any) -> torch.Tensor:
        """Next-token targets (B, T-1); -100 where nothing is scored."""
        if "labels" in sample_list:
            return sample_list["labels"][:, 1:].long()
        ids = sample_list["input_ids"][:, 1:]
        return ids.masked_fill(sample_list["input_mask"][:, 1:] == 0, -100).long()

    def forward(self, sample_list: Any) -> dict:
        tokens, mask = self.image(sample_list)  # (B, N, D), (B, N)
        regions = self._regions(tokens, mask)
        ids = sample_list["input_ids"]
        targets = self._targets(sample_list)  # (B, T-1)
        split = sample_list.get("dataset_type", "train")
        dataset = sample_list.get("dataset_name", "dataset")
        key = f"{split}/{dataset}/caption_cross_entropy"
        if self.training:
            # Only what the loss reads: steps up to the last scored position (later ones
            # change no term), and the vocabulary projection (with LLM tokenizers, 49k words:
            # most of a step's FLOPs) at scored positions only. The loss is the same.
            scored = targets != -100
            length = int(scored.any(0).nonzero().max()) + 1 if bool(scored.any()) else 1
            hidden, _ = self._run(ids[:, :length], regions, self._start(tokens))  # (B, L, H)
            rows = scored[:, :length]
            logits = self.step.output(hidden[rows])  # (K, V) for the K scored positions
            # The mean over the scored tokens of every data-parallel rank, so DDP takes the
            # single-process step (ranks hold different numbers of caption tokens).
            loss = token_cross_entropy(logits[None], targets[:, :length][rows][None], True)
            return {"losses": {key: loss}}
        hidden, _ = self._run(ids[:, :-1], regions, self._start(tokens))
        scores = self.step.output(hidden)  # (B, T-1, V)
        return {
            "scores": scores,
            "losses": {key: token_cross_entropy(scores, targets)},
            "generated_text": self.generate(sample_list, regions=regions),
        }

    def format_for_prediction(self, sample_list: Any, model_output: dict) -> list[dict]:
        """One ``{"id", "caption"}`` row per sample (COCO's caption result format)."""
        captions = model_output.get("generated_text") or self.generate(sample_list)
        ids = sample_list["id"]
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return [{"id": i, "caption": caption} for i, caption in zip(ids, captions)]

    @torch.no_grad()
    def generate(self, sample_list: Any, regions: Any = None, **kwargs: Any) -> list[str]:
        """Greedy decoding of up to ``max_caption_length`` tokens. Returns one str per sample."""
        if regions is None:
            regions = self._regions(*self.image(sample_list))
        if "prompt_ids" in sample_list:
            prompt, keep = sample_list["prompt_ids"], sample_list["prompt_mask"]
        else:
            prompt, keep = sample_list["input_ids"][:, :1], None
        hidden, state = self._run(prompt, regions, self._start(regions[0]), keep)
        word = self.step.output(hidden[:, -1]).argmax(-1)  # (B,)
        generated, finished = [], torch.zeros_like(word, dtype=torch.bool)
        for _ in range(int(self.config.max_caption_length)):
            finished |= torch.isin(word, torch.tensor(self.stop_ids, device=word.device))
            generated.append(word.masked_fill(finished, self.tokenizer.pad_token_id))
            if bool(finished.all()):
                break
            state = self.step(self.embed(word), *regions, state)
            word = self.step.output(state[2]).argmax(-1)
        ids = torch.stack(generated, 1).tolist()  # (B, L)
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]
