"""Tokenizers that work offline.

``build_tokenizer`` takes either a Hugging Face name or folder (``name_or_path``, optionally
``gguf_file``), loaded with ``AutoTokenizer.from_pretrained`` for users who have the files, or
a word-level vocabulary (``word_level.words`` / ``word_level.vocab_file``) that needs no files
at all: what the tests, the demo and tiny random models use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from omegaconf import DictConfig, OmegaConf

from mmf_imgtune.io.annotations import read_lines

SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
    "bos_token": "[BOS]",
    "eos_token": "[EOS]",
}
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def split_words(text: str) -> list[str]:
    """The word-level tokenizer's own split (lower case, words and single punctuation)."""
    return _WORD.findall(text.lower())


def word_level_tokenizer(words: Iterable[str]):
    """A ``PreTrainedTokenizerFast`` over a fixed vocabulary (special tokens first)."""
    # lazy: tokenizers/transformers load when a tokenizer is built
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for token in [*SPECIAL_TOKENS.values(), *words]:
        vocab.setdefault(token, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)


def _read_words(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"word_level.vocab_file '{path}' does not exist; give one word per line, or list "
            "the words under word_level.words."
        )
    return read_lines(path, "words")


_CACHE: dict[str, object] = {}


def _use_gguf_eos(tokenizer, path: str) -> None:
    """Take EOS and whether to add BOS from the GGUF file's own tokenizer metadata.

    transformers 4.53 maps SmolLM2's GGUF EOS (id 2, ``<|im_end|>``) to ``<|im_start|>`` and
    prepends that as BOS although the file says ``add_bos_token: false``; transformers 5 reads
    both right. The file is the authority either way.
    """
    if not os.path.isfile(path):
        return
    # lazy: gguf loads only for .gguf tokenizer files
    from gguf import GGUFReader

    fields = GGUFReader(path).fields

    def value(key: str):
        field = fields.get(key)
        return None if field is None else field.parts[field.data[0]][0]

    eos_id = value("tokenizer.ggml.eos_token_id")
    if eos_id is not None and tokenizer.eos_token_id != int(eos_id):
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(int(eos_id))
    add_bos = value("tokenizer.ggml.add_bos_token")
    if add_bos is not None and getattr(tokenizer, "add_bos_token", None) not in (
        None,
        bool(add_bos),
    ):
        tokenizer.add_bos_token = bool(add_bos)


def build_tokenizer(spec: DictConfig | dict):
    """Build (and cache per process) a tokenizer from a config node.

    Args:
        spec: ``{name_or_path: str, gguf_file: str|None}`` or
            ``{word_level: {words: [..]} | {vocab_file: path}}``.
    """
    if isinstance(spec, dict):
        spec = OmegaConf.create(spec)
    key = OmegaConf.to_yaml(spec, sort_keys=True)
    if key in _CACHE:
        return _CACHE[key]
    if spec.get("word_level"):
        words_spec = spec.word_level
        words = list(words_spec.get("words") or [])
        if words_spec.get("vocab_file"):
            words += _read_words(words_spec.vocab_file)
        tokenizer = word_level_tokenizer(words)
    elif spec.get("name_or_path"):
        # lazy: transformers loads when a tokenizer is built
        from transformers import AutoTokenizer

        kwargs = {"gguf_file": spec.gguf_file} if spec.get("gguf_file") else {}
        tokenizer = AutoTokenizer.from_pretrained(spec.name_or_path, **kwargs)
        if spec.get("gguf_file"):
            _use_gguf_eos(tokenizer, os.path.join(str(spec.name_or_path), str(spec.gguf_file)))
        if tokenizer.pad_token is None:
            # Causal LMs ship without a pad token; padding is masked, so EOS is safe to reuse.
            tokenizer.pad_token = tokenizer.eos_token
    else:
        raise KeyError(
            "tokenizer config needs 'name_or_path' (a Hugging Face name or folder) or "
            f"'word_level' (an offline vocabulary); got keys {list(spec.keys())}"
        )
    _CACHE[key] = tokenizer
    return tokenizer
