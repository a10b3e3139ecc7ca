"""Builders for ImgTune tests: tiny random LMs, an offline tokenizer, synthetic batches.

The synthetic task: the answer is a colour carried by the sign of feature 0 of box 0, so a
model can only learn it through the visual tokens. (Proposed for mmf_imgtune/utils/testing.py.)
"""

from __future__ import annotations

import copy

import torch

from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.data.processors.llm_prompt import LLMPromptProcessor

WORDS = ["what", "colour", "is", "it", "question", "answer", "red", "blue", "a", "scene"]
ANSWERS = ["red", "blue"]
TOKENIZER = {"word_level": {"words": WORDS}}
FEATURE_DIM = 16
LM_CONFIGS = {
    "llama": {
        "model_type": "llama",
        "vocab_size": 32,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
    },
    "gpt2": {
        "model_type": "gpt2",
        "vocab_size": 32,
        "n_embd": 32,
        "n_layer": 2,
        "n_head": 4,
        "n_positions": 128,
        "bos_token_id": 0,  # GPT-2 defaults to 50256, outside a 32-token vocabulary
        "eos_token_id": 0,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
    },
}
LM_CONFIGS["qwen2"] = {**LM_CONFIGS["llama"], "model_type": "qwen2"}  # the same shape


def model_config(lm: str = "llama", **overrides) -> dict:
    config = {
        "lm": {"config": copy.deepcopy(LM_CONFIGS[lm])},
        "tokenizer": TOKENIZER,
        "region_encoder": {"feature_dim": FEATURE_DIM},
        "cross_attention": {"num_heads": 4},
        "generation": {"max_new_tokens": 4},
        "dropout": 0.0,
    }
    for key, value in overrides.items():
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def build(lm: str = "llama", **overrides):
    from mmf_imgtune.models.imgtune import ImgTune

    torch.manual_seed(0)
    return ImgTune(ImgTune.default_config(model_config(lm, **overrides))).init_from_config()


def make_batch(
    size: int = 8,
    boxes: int = 5,
    seed: int = 0,
    with_answer: bool = True,
    max_seq_length: int = 12,
    distinct: bool = False,
) -> SampleList:
    """A SampleList like the shapes dataset's, with soft VQA targets over ANSWERS.

    ``distinct``: sample i's text is WORDS[i] and its box 0 carries i (for retrieval).
    """
    generator = torch.Generator().manual_seed(seed)
    processor = LLMPromptProcessor(
        {
            "tokenizer": TOKENIZER,
            "max_seq_length": max_seq_length,
            "prompt_template": "question: {text} answer:",
        }
    )
    samples = []
    for index in range(size):
        label = index % 2
        features = torch.randn(boxes, FEATURE_DIM, generator=generator)
        features[0, 0] = 3.0 if label == 0 else -3.0
        if distinct:
            features[0, 1 + index] = 5.0
        num_boxes = int(torch.randint(1, boxes + 1, (1,), generator=generator))
        corners = torch.rand(boxes, 2, generator=generator) * 0.5
        boxes_5d = torch.cat([corners, corners + 0.5, torch.full((boxes, 1), 0.25)], dim=1)
        question = WORDS[index] if distinct else "what colour is it ?"
        text = processor({"text": question, "answer": ANSWERS[label] if with_answer else None})
        sample = Sample(text)
        sample.image_feature_0 = features
        sample.image_info_0 = {
            "boxes_5d": boxes_5d,
            "num_boxes": torch.tensor(num_boxes),
            "objects": torch.randint(0, 3, (boxes,), generator=generator),
        }
        sample.targets = torch.nn.functional.one_hot(torch.tensor(label), 2).float()
        sample.answers = [ANSWERS[label]]
        sample.id = torch.tensor(index)
        samples.append(sample)
    batch = SampleList(samples)
    batch.dataset_name, batch.dataset_type = "synthetic", "train"
    return batch


def train_steps(model, batch, steps: int, lr: float = 5e-3) -> list[float]:
    """A plain AdamW loop; returns the total loss per step."""
    optimizer = torch.optim.AdamW(
        model.get_optimizer_parameters({"optimizer": {"params": {"lr": lr}}}), lr=lr
    )
    model.train()
    history = []
    for _ in range(steps):
        loss = sum(model(batch)["losses"].values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    return history
