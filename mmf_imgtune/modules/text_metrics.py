"""Whole-split metrics over generated text and retrieval embeddings.

- ``bleu4`` / ``cider``: COCO caption metrics (Papineni et al. 2002; Vedantam et al. 2015)
  through pycocoevalcap's scorers, over every hypothesis of the split at once (CIDEr's IDF
  weights are corpus statistics, so a per-batch average would be wrong). Text is tokenised
  as the COCO caption evaluation does, with pycocoevalcap's PTBTokenizer (Stanford CoreNLP,
  needs Java); without Java, by a regular expression (lower-cased ``[a-z0-9]+`` words), and
  the metric's note and one printed line say so.
- ``generation_vqa_accuracy``: VQA accuracy of generated answers (``vqa_eval.py``): the
  official normalisation and leave-one-out score for 10 references, exact match for fewer;
  the note names the rule and how many questions it scored.
- ``recall_at_k`` (``recall_at_1/5/10``): text-to-image (or image-to-text) recall@k over the
  whole split's embeddings; item i's text matches item i's image.

Hypotheses come from ``model_output["generated_text"]``; references from
``sample_list["captions"]`` (or ``"answers"``), a list of reference lists. Under DDP, states
are gathered with ``torch.distributed.all_gather_object`` before computing.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from typing import Any

import torch
import torch.distributed as dist

from mmf_imgtune.modules.metrics import BaseMetric, MetricError
from mmf_imgtune.modules.vqa_eval import score_rule, vqa_score
from mmf_imgtune.registry import registry

PTB_TOKENIZER = "PTBTokenizer (pycocoevalcap, Stanford CoreNLP 3.4.1)"
REGEX_TOKENIZER = "regex [a-z0-9]+ words, lower-cased (no Java for the PTBTokenizer)"
_warned_no_java = False


def _regex_words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", str(text).lower()))


def coco_tokenize(gts: dict, res: dict) -> tuple[dict, dict, str]:
    """Tokenise references and hypotheses ({id: [text, ...]}) as the COCO caption evaluation
    does. Returns both tokenised and the tokenizer's name."""
    global _warned_no_java
    if shutil.which("java") is None:
        if not _warned_no_java:
            print(
                f"[mmf_imgtune] BLEU/CIDEr tokenizer: {REGEX_TOKENIZER}; install a Java runtime "
                "(e.g. Debian's default-jre-headless) for the COCO tokenizer"
            )
            _warned_no_java = True
        gts = {i: [_regex_words(t) for t in texts] for i, texts in gts.items()}
        res = {i: [_regex_words(t) for t in texts] for i, texts in res.items()}
        return gts, res, REGEX_TOKENIZER
    # pycocoevalcap loads only when a split computes BLEU/CIDEr
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    def tokenize(texts: dict) -> dict:
        # One line per text: a newline inside one would shift every later id.
        captions = {
            i: [{"caption": str(t).replace("\n", " ")} for t in v] for i, v in texts.items()
        }
        return PTBTokenizer().tokenize(captions)

    return tokenize(gts), tokenize(res), PTB_TOKENIZER


def _gather(items: list) -> list:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        parts: list = [None] * dist.get_world_size()
        dist.all_gather_object(parts, items)
        return [item for part in parts for item in part]
    return items


def _references(sample_list: Any, field: str | None) -> list[list[str]]:
    fields = [field] if field else ["captions", "answers"]
    for name in fields:
        if name in sample_list:
            return [[r] if isinstance(r, str) else list(r) for r in sample_list[name]]
    raise KeyError(
        f"text metrics need references in one of {fields}; batch has {list(sample_list)}"
    )


class _TextMetric(BaseMetric):
    """Accumulates (hypothesis, references) pairs over a split."""

    def __init__(self, reference_field: str | None = None, **params: Any):
        super().__init__(**params)
        self.reference_field = reference_field
        self.reference_fields = (reference_field,) if reference_field else ("captions", "answers")
        self.pairs: list[tuple[str, list[str]]] = []
        self.tokenizer: str | None = None  # set by compute (BLEU/CIDEr)

    def update(self, sample_list: Any, model_output: dict) -> None:
        if "generated_text" not in model_output:
            raise KeyError(
                f"{type(self).__name__} needs model_output['generated_text']; set "
                "model_config.imgtune.generate_in_eval=true with task=generation"
            )
        refs = _references(sample_list, self.reference_field)
        self.pairs.extend(zip(model_output["generated_text"], refs))

    def reset(self) -> None:
        self.pairs = []

    def _all_pairs(self) -> list[tuple[str, list[str]]]:
        pairs = _gather(self.pairs)  # every process's, so all agree on "nothing scored"
        if not pairs:
            raise MetricError(
                f"{type(self).__name__}: no (generated text, references) pair to score"
            )
        return pairs

    def generation_summary(self) -> dict[str, Any] | None:
        """How varied the generated texts are (a collapsed model says one thing to every
        image): count, distinct texts, and the most frequent one with its share."""
        texts = [hypothesis for hypothesis, _ in _gather(self.pairs)]
        if not texts:
            return None
        text, count = Counter(texts).most_common(1)[0]
        return {
            "generated": len(texts),
            "distinct": len(set(texts)),
            "most_frequent": text,
            "most_frequent_count": count,
            "most_frequent_share": count / len(texts),
        }

    def _coco_inputs(self) -> tuple[dict, dict]:
        pairs = self._all_pairs()
        res = {i: [h] for i, (h, _) in enumerate(pairs)}
        gts = {i: list(refs) or [""] for i, (_, refs) in enumerate(pairs)}
        gts, res, self.tokenizer = coco_tokenize(gts, res)
        return gts, res

    def note(self) -> str | None:
        return f"tokenizer: {self.tokenizer}" if self.tokenizer else None


@registry.register_metric("bleu4")
class Bleu4(_TextMetric):
    def compute(self) -> float:
        # pycocoevalcap loads only when a split computes BLEU/CIDEr
        from pycocoevalcap.bleu.bleu import Bleu

        gts, res = self._coco_inputs()
        scores, _ = Bleu(4).compute_score(gts, res, verbose=0)
        return float(scores[3])


@registry.register_metric("cider")
class Cider(_TextMetric):
    def compute(self) -> float:
        # pycocoevalcap loads only when a split computes BLEU/CIDEr
        from pycocoevalcap.cider.cider import Cider as CiderScorer

        gts, res = self._coco_inputs()
        score, _ = CiderScorer().compute_score(gts, res)
        return float(score)


@registry.register_metric("generation_vqa_accuracy")
class GenerationVQAAccuracy(_TextMetric):
    def compute(self) -> float:
        pairs = self._all_pairs()
        self.rules = Counter(score_rule(len(refs)) for _, refs in pairs)
        return sum(vqa_score(h, refs) for h, refs in pairs) / len(pairs)

    def note(self) -> str | None:
        rules = getattr(self, "rules", None)
        return "; ".join(f"{rule}: {n} questions" for rule, n in rules.items()) if rules else None


@registry.register_metric("recall_at_k")
class RecallAtK(BaseMetric):
    """Params: ``k``; ``direction``: text_to_image (default) or image_to_text."""

    reference_fields = ()  # item i's text matches item i's image: no labels needed

    def __init__(self, k: int = 1, direction: str = "text_to_image", **params: Any):
        super().__init__(**params)
        if direction not in ("text_to_image", "image_to_text"):
            raise ValueError(
                f"recall_at_k direction '{direction}': use text_to_image or image_to_text"
            )
        self.k, self.direction = int(k), direction
        self.images: list[torch.Tensor] = []
        self.texts: list[torch.Tensor] = []

    def update(self, sample_list: Any, model_output: dict) -> None:
        if "image_embedding" not in model_output:
            raise KeyError("recall_at_k needs image_embedding/text_embedding: use task=retrieval")
        self.images.append(model_output["image_embedding"].detach().float().cpu())
        self.texts.append(model_output["text_embedding"].detach().float().cpu())

    def reset(self) -> None:
        self.images, self.texts = [], []

    def compute(self) -> float:
        images, texts = _gather(self.images), _gather(self.texts)
        if not images:
            raise MetricError(f"recall_at_{self.k}: no embeddings to rank")
        images, texts = torch.cat(images), torch.cat(texts)  # (M, E)
        similarity = texts @ images.t()  # (M texts, M images)
        if self.direction == "image_to_text":
            similarity = similarity.t()
        correct = similarity.diagonal().unsqueeze(1)
        rank = (similarity > correct).sum(dim=1)  # items scored strictly above the match
        return float((rank < self.k).float().mean())


@registry.register_metric("recall_at_1")
class RecallAt1(RecallAtK):
    def __init__(self, **params: Any):
        super().__init__(k=1, **params)


@registry.register_metric("recall_at_5")
class RecallAt5(RecallAtK):
    def __init__(self, **params: Any):
        super().__init__(k=5, **params)


@registry.register_metric("recall_at_10")
class RecallAt10(RecallAtK):
    def __init__(self, **params: Any):
        super().__init__(k=10, **params)
