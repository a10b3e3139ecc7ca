"""Which of our classes MMF sees, and under which names (no MMF import needed).

MMF ships its own ``butd``, ``concat_bert``, ``hateful_memes``, ``torchvision_transforms``,
``accuracy``, ... so ours go into MMF's registry under names MMF does not use. MMF's own
baselines stay MMF's; the plugin registers only ImgTune and the data side.
"""

from __future__ import annotations

# MMF built-ins (main, 1.0.0rc12) that share a name with one of ours.
MMF_BUILTINS = {
    "model": {
        "butd", "concat_bert", "late_fusion", "mmbt", "unimodal_image", "unimodal_text",
        "visual_bert",
    },
    "builder": {"coco", "hateful_memes", "vqa2"},
    "processor": {"torchvision_transforms"},
    "loss": {"cross_entropy", "logit_bce", "bce", "caption_cross_entropy"},
    "metric": {"accuracy", "binary_f1", "roc_auc", "vqa_accuracy", "bleu4"},
}  # fmt: skip

# our registry name -> MMF registry name
BUILDERS = {
    "shapes": "shapes",
    "image_text_jsonl": "image_text_jsonl",
    "hateful_memes": "imgtune_hateful_memes",
    "vqa2": "imgtune_vqa2",
    "coco": "imgtune_coco",
}
PROCESSORS = {
    "llm_prompt": "llm_prompt",
    "text_tokenizer": "text_tokenizer",
    "torchvision_transforms": "imgtune_torchvision_transforms",
}
MODELS = {"imgtune": "imgtune"}
# Every adapted metric is ``imgtune_<ours>`` (metric_adapter.PREFIX), colliding or not, so a
# config says which implementation it means.
TEST_REPORTER = "imgtune_file"


def collisions() -> list[str]:
    """MMF names of ours that MMF already uses (must stay empty)."""
    taken = []
    for kind, table in (("builder", BUILDERS), ("processor", PROCESSORS), ("model", MODELS)):
        taken += [f"{kind}:{name}" for name in table.values() if name in MMF_BUILTINS[kind]]
    return taken
