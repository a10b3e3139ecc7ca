"""ImgTune against MMF's OWN baselines, all trained by MMF's trainer on one data set and budget.

    python benchmarks/mmf_baselines.py --out-dir DIR [--max-updates 800] [--batch-size 64]
        [--models imgtune,imgtune_no_class_ids,mmbt,visual_bert,concat_bert,late_fusion]
        [--train-size 2000] [--eval-size 300]

Needs real MMF (scripts/install_mmf.sh). Each model is one ``mmf_run`` (MMF's CLI, in a fresh
process) with ``env.user_dir=mmf_imgtune_mmf`` on our ``shapes`` builder's VQA task (18
answers, soft-score targets), reading the same region features (MobileNetV2 pooled, 1280-d,
ground-truth boxes). Every model is a classifier over the answers trained with the same budget
(updates, batch, warm-up + cosine schedule, AdamW) and scored on the test split by the same
code, our ``imgtune_vqa_accuracy`` and ``imgtune_accuracy``. mmbt, visual_bert, concat_bert and
late_fusion are MMF's classes with MMF's default configs, changed only where the run must stay
offline and small and where the task needs it: ``num_labels`` = the answers, MMF's
``logit_bce`` loss on the builder's soft scores (as MMF trains VQA2), a tiny random BERT (2
layers, hidden 128) saved to a local folder by this script (MMF loads ``bert_model_name`` from
it), the region features taken directly (``identity`` encoder), our word-level
``text_tokenizer`` ids (input_ids / input_mask / segment_ids). ImgTune runs its shapes VQA
config (a tiny random Llama, hidden 128, 2 layers; it also reads the boxes and their class ids,
which MMF's baselines do not take: ``imgtune_no_class_ids`` drops the class ids). Two answer
priors read from the annotations (no model) show where chance is. Writes ``results.json`` and
``table.md`` to ``--out-dir`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
USER_DIR = ROOT / "mmf_imgtune_mmf"
IMGTUNE_CONFIG = ROOT / "projects/imgtune/configs/mmf_plugin/shapes/vqa.yaml"
# Benchmark name -> (MMF model name, extra model_config); the variant shows what the class ids
# (objects) give ImgTune, since MMF's baselines read only the region features.
IMGTUNE_VARIANTS = {"imgtune": {}, "imgtune_no_class_ids": {"region_encoder": {
    "num_object_classes": 0}}}  # fmt: skip
BASELINES = ("mmbt", "visual_bert", "concat_bert", "late_fusion")
MODELS = (*IMGTUNE_VARIANTS, *BASELINES)
NUM_ANSWERS = 18  # dataset_config.shapes.num_answers
FEATURE_DIM, MAX_FEATURES = 1280, 8  # shapes defaults: MobileNetV2 pooled, <= 8 boxes
BERT = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 256}  # fmt: skip
METRICS = ("imgtune_vqa_accuracy", "imgtune_accuracy")


def tiny_bert(out: Path, vocab_size: int) -> str:
    """A random BERT (seeded) saved as a local pretrained folder; nothing is downloaded.

    Returns its name relative to ``out`` (the runs' working directory): MMF's text encoder
    takes its tuple-returning BERT path only for names starting with ``bert-``; other names
    go through ``AutoModel``, whose output object MMF's fusion models cannot index.
    """
    import torch
    from transformers import BertConfig, BertModel

    name = "bert-tiny-random"
    if not (out / name / "config.json").is_file():
        torch.manual_seed(0)
        config = BertConfig(**{**BERT, "vocab_size": vocab_size})
        BertModel(config).save_pretrained(out / name)
    return name


def baseline_config(name: str, bert: str) -> dict:
    """MMF's ``model_config.<name>`` changes for region features and the tiny BERT."""
    text = {"bert_model_name": bert, **BERT}
    modal = {"type": "identity", "params": {"in_dim": FEATURE_DIM}}
    # MMF's fusions size their MLP heads by out_dim, not num_labels.
    mlp = {"hidden_dim": BERT["hidden_size"], "num_layers": 1, "out_dim": NUM_ANSWERS}
    # Classifiers over the answers with MMF's VQA loss on the builder's soft scores.
    head = {"num_labels": NUM_ANSWERS, "losses": [{"type": "logit_bce"}]}
    common = {"bert_model_name": bert, "direct_features_input": True, **head,
              "modal_hidden_size": FEATURE_DIM, "text_hidden_size": BERT["hidden_size"],
              "modal_encoder": modal, "text_encoder": {"params": text}}  # fmt: skip
    if name == "concat_bert":
        return {**common, "num_features": MAX_FEATURES, "classifier": {"params": mlp}}
    if name == "late_fusion":
        return {**common, "num_features": MAX_FEATURES, "modal_classifier": {"params": mlp},
                "text_classifier": {"params": mlp}}  # fmt: skip
    if name == "mmbt":
        return {**common, "training_head_type": "classification"}
    if name == "visual_bert":
        return {"bert_model_name": bert, "training_head_type": "classification", **head,
                "visual_embedding_dim": FEATURE_DIM, **BERT}  # fmt: skip
    raise ValueError(f"unknown baseline '{name}'; choose from {BASELINES}")


def run_config(name: str, args: argparse.Namespace, bert: str) -> dict:
    sizes = {"train": args.train_size, "val": args.eval_size, "test": args.eval_size}
    run = {
        "datasets": "shapes",
        "dataset_config": {"shapes": {"task": "vqa", "sizes": sizes}},
        "training": {"batch_size": args.batch_size, "max_updates": args.max_updates,
                     "evaluation_interval": args.max_updates,
                     "checkpoint_interval": args.max_updates, "log_interval": 50,
                     "num_workers": 0, "seed": 1, "lr_scheduler": True,
                     "early_stop": {"criteria": "shapes/imgtune_vqa_accuracy",
                                    "minimize": False}},
        "scheduler": {"type": "warmup_cosine", "params": {
            "num_warmup_steps": max(1, args.max_updates // 10),
            "num_training_steps": args.max_updates}},
        "evaluation": {"metrics": list(METRICS), "reporter": {"type": "imgtune_file"}},
    }  # fmt: skip
    run["optimizer"] = {"type": "adam_w", "params": {"lr": args.lr, "weight_decay": 0.01}}
    if name in IMGTUNE_VARIANTS:
        return {"includes": [str(IMGTUNE_CONFIG)], "model_config": {"imgtune": IMGTUNE_VARIANTS[name]},
                **run}  # fmt: skip
    run["model_config"] = {name: baseline_config(name, bert)}
    return run


def mmf_model(name: str) -> str:
    return "imgtune" if name in IMGTUNE_VARIANTS else name


def answer_priors(data_dir: Path) -> dict[str, float]:
    """Test accuracy of two answers read off the train annotations, no image seen: the most
    frequent answer, and the most frequent answer of each question string (text-only prior)."""
    from mmf_imgtune.data.shapes.generate import load_split

    def questions(split: str) -> list[dict]:
        return [q for r in load_split(str(data_dir), split) for q in r["questions"]]

    train, test = questions("train"), questions("test")
    overall = Counter(q["answer"] for q in train).most_common(1)[0][0]
    by_text: dict[str, Counter] = {}
    for q in train:
        by_text.setdefault(q["question"], Counter())[q["answer"]] += 1
    per_text = [by_text[q["question"]].most_common(1)[0][0] if q["question"] in by_text
                else overall for q in test]  # fmt: skip
    return {
        "most frequent answer": sum(q["answer"] == overall for q in test) / len(test),
        "most frequent answer per question": sum(
            q["answer"] == a for q, a in zip(test, per_text)) / len(test),
    }  # fmt: skip


def test_metrics(log: str) -> dict[str, float]:
    """The last ``test/shapes/<metric>: value`` of each metric in an MMF log."""
    found = {}
    for metric in METRICS:
        values = re.findall(rf"test/shapes/{metric}: ([0-9.]+)", log)
        if values:
            found[metric] = float(values[-1])
    return found


def prepare_data(out: Path, sizes: dict[str, int]) -> float:
    """Generate the splits and extract their features once, before any run (seconds taken);
    every run then finds them complete, so its wall time is training and evaluation."""
    from mmf_imgtune.data.builders.shapes import ShapesBuilder

    defaults = OmegaConf.load(ROOT / "configs/datasets/shapes/defaults.yaml").dataset_config.shapes
    config = OmegaConf.merge(defaults, {"data_dir": str(out / "data/shapes"), "sizes": sizes})
    start = time.time()
    for split in sizes:
        ShapesBuilder().build(config, split, progress=False)
    return time.time() - start


def table(results: dict, priors: dict[str, float]) -> str:
    lines = ["| model | test VQA accuracy | test accuracy | wall s | load avg (1 min) at start |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        failed = f"failed (rc {r['returncode']})"
        vqa, acc = (f"{r[m]:.3f}" if m in r else failed for m in METRICS)
        who = "ours" if name in IMGTUNE_VARIANTS else "MMF's"
        lines.append(f"| {name} ({who}) | {vqa} | {acc} | {r['seconds']:.0f} | {r['load']:.1f} |")
    for name, value in priors.items():
        lines.append(f"| {name} (no model) | {value:.3f} | {value:.3f} | - | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--max-updates", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--eval-size", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW peak lr of every model")
    args = parser.parse_args(argv)
    out = args.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    from mmf_imgtune.data.shapes.vocab import all_words

    BERT["vocab_size"] = len(all_words()) + 8  # the word-level tokenizer's ids fit
    bert = tiny_bert(out, BERT["vocab_size"])
    sizes = {"train": args.train_size, "val": args.eval_size, "test": args.eval_size}
    data_seconds = prepare_data(out, sizes)
    print(f"data ready in {data_seconds:.0f} s", flush=True)
    results = {}
    for name in args.models.split(","):
        config = out / f"{name}.yaml"
        OmegaConf.save(OmegaConf.create(run_config(name, args, bert)), config)
        env = dict(os.environ, MMF_DATA_DIR=str(out / "data"), MMF_SAVE_DIR=str(out / name),
                   HF_HUB_OFFLINE="1")  # fmt: skip
        opts = [f"config={config}", f"model={mmf_model(name)}", "dataset=shapes",
                f"env.user_dir={USER_DIR}", "run_type=train_val_test"]  # fmt: skip
        code = f"import sys; from mmf_cli.run import run; sys.argv[1:] = {opts!r}; run()"
        load, start = os.getloadavg()[0], time.time()
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, cwd=out)  # fmt: skip
        log = proc.stdout + proc.stderr
        (out / f"{name}.log").write_text(log)
        results[name] = {"seconds": round(time.time() - start, 1), "load": load,
                         "returncode": proc.returncode, **test_metrics(log)}  # fmt: skip
        print(name, results[name], flush=True)
    priors = answer_priors(out / "data/shapes")
    (out / "results.json").write_text(json.dumps({
        "args": {k: str(v) for k, v in vars(args).items()}, "data_seconds": round(data_seconds, 1),
        "results": results, "priors": priors}, indent=2))  # fmt: skip
    text = table(results, priors)
    (out / "table.md").write_text(text + "\n")
    print(text)
    return 0 if all(r["returncode"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
