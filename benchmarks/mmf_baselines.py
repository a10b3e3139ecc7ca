"""ImgTune against MMF's OWN baselines, all trained by MMF's trainer on one data set and budget.

    python benchmarks/mmf_baselines.py --out-dir DIR [--max-updates 300] [--batch-size 32]
        [--models imgtune,mmbt,visual_bert,concat_bert,late_fusion] [--train-size 1000]

Needs real MMF (scripts/install_mmf.sh). Each model is one ``mmf_run`` (MMF's CLI, in a fresh
process) with ``env.user_dir=mmf_imgtune_mmf`` on our ``shapes`` builder's statement task (is
the statement true of the image? two classes), reading the same region features (MobileNetV2
pooled, 1280-d, ground-truth boxes); metrics are our ``imgtune_accuracy`` / ``imgtune_roc_auc``
on the test split, so every model is scored by the same code. mmbt, visual_bert, concat_bert and
late_fusion are MMF's classes with MMF's default configs, changed only where the run must stay
offline and small: their BERT is a tiny random one (2 layers, hidden 128) saved to a local folder
by this script (MMF loads ``bert_model_name`` from it), their image side takes the region
features directly (``identity`` encoder), and they read our word-level ``text_tokenizer``
output (input_ids / input_mask / segment_ids). ImgTune runs its shapes project config (a tiny
random Llama, hidden 128, 2 layers). Writes ``results.json`` and ``table.md`` to ``--out-dir``
and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
USER_DIR = ROOT / "mmf_imgtune_mmf"
IMGTUNE_CONFIG = ROOT / "projects/imgtune/configs/mmf_plugin/shapes/classification.yaml"
MODELS = ("imgtune", "mmbt", "visual_bert", "concat_bert", "late_fusion")
FEATURE_DIM, MAX_FEATURES = 1280, 8  # shapes defaults: MobileNetV2 pooled, <= 8 boxes
BERT = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 256}  # fmt: skip
METRICS = ("imgtune_accuracy", "imgtune_roc_auc")


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
    mlp = {"hidden_dim": BERT["hidden_size"], "num_layers": 1}
    common = {"bert_model_name": bert, "direct_features_input": True, "num_labels": 2,
              "modal_hidden_size": FEATURE_DIM, "text_hidden_size": BERT["hidden_size"],
              "modal_encoder": modal, "text_encoder": {"params": text},
              "losses": [{"type": "cross_entropy"}]}  # fmt: skip
    if name == "concat_bert":
        return {**common, "num_features": MAX_FEATURES, "classifier": {"params": mlp}}
    if name == "late_fusion":
        return {**common, "num_features": MAX_FEATURES, "modal_classifier": {"params": mlp},
                "text_classifier": {"params": mlp}}  # fmt: skip
    if name == "mmbt":
        return {**common, "training_head_type": "classification"}
    if name == "visual_bert":
        return {"bert_model_name": bert, "training_head_type": "classification", "num_labels": 2,
                "visual_embedding_dim": FEATURE_DIM, **BERT,
                "losses": [{"type": "cross_entropy"}]}  # fmt: skip
    raise ValueError(f"unknown baseline '{name}'; choose from {MODELS[1:]}")


def run_config(name: str, args: argparse.Namespace, bert: str) -> dict:
    sizes = {"train": args.train_size, "val": args.eval_size, "test": args.eval_size}
    run = {
        "datasets": "shapes",
        "dataset_config": {"shapes": {"task": "classification", "sizes": sizes}},
        "training": {"batch_size": args.batch_size, "max_updates": args.max_updates,
                     "evaluation_interval": args.max_updates,
                     "checkpoint_interval": args.max_updates, "log_interval": 50,
                     "num_workers": 0, "seed": 1, "lr_scheduler": True,
                     "early_stop": {"criteria": "shapes/imgtune_roc_auc", "minimize": False}},
        "scheduler": {"type": "warmup_cosine", "params": {
            "num_warmup_steps": max(1, args.max_updates // 10),
            "num_training_steps": args.max_updates}},
        "evaluation": {"metrics": list(METRICS), "reporter": {"type": "imgtune_file"}},
    }  # fmt: skip
    if name == "imgtune":
        return {"includes": [str(IMGTUNE_CONFIG)], **run}
    run["model_config"] = {name: baseline_config(name, bert)}
    run["optimizer"] = {"type": "adam_w", "params": {"lr": args.baseline_lr, "weight_decay": 0.01}}
    return run


def test_metrics(log: str) -> dict[str, float]:
    """The last ``test/shapes/<metric>: value`` of each metric in an MMF log."""
    found = {}
    for metric in METRICS:
        values = re.findall(rf"test/shapes/{metric}: ([0-9.]+)", log)
        if values:
            found[metric] = float(values[-1])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--max-updates", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--eval-size", type=int, default=200)
    parser.add_argument("--baseline-lr", type=float, default=5e-4)
    args = parser.parse_args(argv)
    out = args.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    from mmf_imgtune.data.shapes.vocab import all_words

    BERT["vocab_size"] = len(all_words()) + 8  # the word-level tokenizer's ids fit
    bert = tiny_bert(out, BERT["vocab_size"])
    results = {}
    for name in args.models.split(","):
        config = out / f"{name}.yaml"
        OmegaConf.save(OmegaConf.create(run_config(name, args, bert)), config)
        env = dict(os.environ, MMF_DATA_DIR=str(out / "data"), MMF_SAVE_DIR=str(out / name),
                   HF_HUB_OFFLINE="1")  # fmt: skip
        opts = [f"config={config}", f"model={name}", "dataset=shapes",
                f"env.user_dir={USER_DIR}", "run_type=train_val_test"]  # fmt: skip
        code = f"import sys; from mmf_cli.run import run; sys.argv[1:] = {opts!r}; run()"
        start = time.time()
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, cwd=out)  # fmt: skip
        log = proc.stdout + proc.stderr
        (out / f"{name}.log").write_text(log)
        results[name] = {"seconds": round(time.time() - start, 1), "returncode": proc.returncode,
                         **test_metrics(log)}  # fmt: skip
        print(name, results[name], flush=True)
    (out / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                  "results": results}, indent=2))  # fmt: skip
    lines = ["| model (MMF registry name) | test accuracy | test ROC-AUC | wall s |",
             "|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        failed = f"failed (rc {r['returncode']})"
        acc, auc = (f"{r[m]:.3f}" if m in r else failed for m in METRICS)
        lines.append(f"| {name} | {acc} | {auc} | {r['seconds']:.0f} |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    print(table)
    return 0 if all(r["returncode"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
