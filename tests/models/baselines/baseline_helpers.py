"""Synthetic batches and tiny configs for the baseline tests (no files, no downloads)."""

import torch
from omegaconf import OmegaConf

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.config.loader import load_yaml, resolve_path
from mmf_imgtune.registry import registry

TINY_BERT = {
    "vocab_size": 40,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
}
BATCH, SEQ, REGIONS, DIM = 4, 7, 5, 12


def tiny_config(name: str, **overrides):
    """The model's shipped defaults with a tiny random BERT and small feature widths."""
    model_class = registry.get_model_class(name)
    config = load_yaml(resolve_path(model_class.config_path())).model_config[name]
    if "bert" in config:
        config.bert.config = TINY_BERT
    if "image_encoder" in config:
        config.image_encoder.feature_dim = DIM
        config.image_encoder.resnet = "resnet18"
    if "classifier_hidden" in config:
        config.classifier_hidden = 8
    return OmegaConf.merge(config, OmegaConf.create(overrides))


def build(name: str, **overrides):
    return registry.get_model_class(name)(tiny_config(name, **overrides)).init_from_config()


def synthetic_batch(num_labels: int = 2, soft: bool = False, seed: int = 0) -> SampleList:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, TINY_BERT["vocab_size"], (BATCH, SEQ), generator=generator)
    ids[:, 0] = 2  # [CLS]
    mask = torch.ones(BATCH, SEQ, dtype=torch.long)
    mask[0, 5:] = 0  # one padded text
    ids[0, 5:] = 0
    num_boxes = torch.tensor([5, 3, 1, 4])
    boxes = torch.rand(BATCH, REGIONS, 5, generator=generator)
    features = torch.randn(BATCH, REGIONS, DIM, generator=generator)
    padding = torch.arange(REGIONS).view(1, -1) >= num_boxes.view(-1, 1)
    features[padding] = 0
    boxes[padding] = 0
    if soft:
        targets = torch.rand(BATCH, num_labels, generator=generator)
    else:
        targets = torch.randint(0, num_labels, (BATCH,), generator=generator)
    return SampleList(
        {
            "input_ids": ids,
            "input_mask": mask,
            "segment_ids": torch.zeros(BATCH, SEQ, dtype=torch.long),
            "image_feature_0": features,
            "image_info_0": {"num_boxes": num_boxes, "boxes_5d": boxes},
            "image": torch.randn(BATCH, 3, 32, 32, generator=generator),
            "targets": targets,
            "dataset_name": "synthetic",
            "dataset_type": "train",
        }
    )
