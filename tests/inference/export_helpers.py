"""Helpers of the inference tests: tiny shapes VQA runs (trained, then mmf_predict from the
checkpoint), the test questions, the test split as mmf_predict read it."""

import json
from pathlib import Path

import torch

TINY_CONFIG = """
model_config:
  imgtune:
    task: generation
    fusion: {fusion}
    lm_training: lora
    tokenizer: ${{dataset_config.shapes.processors.text_processor.params.tokenizer}}
    lm:
      config: {{model_type: llama, vocab_size: 96, hidden_size: 32, intermediate_size: 64,
               num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
               max_position_embeddings: 64}}
      lora: {{r: 4, alpha: 8, target_modules: [q_proj, v_proj, o_proj]}}
    region_encoder: {{feature_dim: 1280, projector_hidden_dim: 64, num_object_classes: 19}}
    generation: {{max_new_tokens: 4}}
dataset_config:
  shapes:
    task: vqa
    sizes: {{train: 16, val: 4, test: 6}}
    processors:
      text_processor:
        type: llm_prompt
        params: {{max_seq_length: 24, prompt_template: "question: {{text}} answer:"}}
evaluation:
  metrics: [generation_vqa_accuracy]
"""
FUSIONS = ("prefix", "cross_attention", "both")


def train_and_predict(
    root: Path, config: str, name: str, extra=(), data=None, max_updates: int = 4
) -> dict:
    """Train ``max_updates``, then ``mmf_predict`` from the checkpoint; returns the run's
    folder and predictions."""
    from mmf_imgtune.cli.run import predict, run

    save = root / name
    common = [f"config={config}", "model=imgtune", "dataset=shapes",
              f"env.data_dir={data or root / 'data'}", f"env.save_dir={save}",
              "training.progress_bar=false", *extra]  # fmt: skip
    torch.manual_seed(0)
    # A few small steps: trained weights (LoRA non-zero) that still answer varied text.
    run([*common, "run_type=train", f"training.max_updates={max_updates}",
         "training.batch_size=8", f"training.checkpoint_interval={max_updates}"])  # fmt: skip
    result = predict([*common, f"checkpoint.resume_file={save / 'current.ckpt'}"])
    (predictions,) = result["predictions"]
    return {"save": save, "predictions": json.loads(Path(predictions).read_text())}


def question_rows(data: Path) -> list[dict]:
    """Every test question with its image path, true boxes and class ids."""
    rows = []
    for line in (data / "annotations" / "test.jsonl").read_text().splitlines():
        record = json.loads(line)
        for question in record["questions"]:
            rows.append({"id": question["question_id"], "question": question["question"],
                         "image": str(data / record["image"]),
                         "boxes": [o["bbox"] for o in record["objects"]],
                         "objects": [o["label"] for o in record["objects"]]})  # fmt: skip
    return rows


def predict_batches(save: Path, size: int = 8):
    """The test split as mmf_predict read it (stored features, the run's processors)."""
    from mmf_imgtune.common.sample import SampleList
    from mmf_imgtune.registry import registry
    from mmf_imgtune.trainer.load_run import load_run

    config = load_run(save).config
    dataset = registry.get_builder_class("shapes")().load(config.dataset_config.shapes, "test")
    samples = [dataset[i] for i in range(len(dataset))]
    for start in range(0, len(samples), size):
        yield SampleList(samples[start : start + size])
