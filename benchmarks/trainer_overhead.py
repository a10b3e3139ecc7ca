"""How much does the runtime cost over a plain PyTorch loop?

``--model toy_classifier`` (the default) trains the same model (widened so a step does real
work) on the same data, batch size, optimizer and number of updates, once through
``mmf_run``'s Python entry (Lightning, checkpoints, logging) and once through a bare loop
written here, alternating ``--repeats`` times, and prints the median time ratio. Target:
ratio <= 1.05.

``--model imgtune`` does the same for ImgTune prefix captioning (a random Llama-shaped LLM,
``--layers`` x ``--hidden``, trained in full) on a generated ``image_text_jsonl`` folder of
region features and captions. The bare loop is plain Hugging Face: the same LLM called with
``inputs_embeds`` = [visual tokens of the same region encoder; text embeddings], HF's own
``labels`` loss, the same optimizer and data loader. It prints ``speed: <bare / mmf_run>``
(target >= 0.95: mmf_run at least 95% of the bare loop's speed).

    python benchmarks/trainer_overhead.py [--model toy_classifier|imgtune] [--updates 300]
        [--repeats 3] [--threads 2] [--layers 4] [--hidden 256] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mmf_imgtune.config import build_config
from mmf_imgtune.trainer import build_model, run_training
from mmf_imgtune.trainer.datamodule import MMFDataModule
from mmf_imgtune.trainer.optim import build_optimizer
from mmf_imgtune.utils.testing import write_caption_features


def config_for(updates: int, save_dir: str, args=None):
    return build_config(
        [
            "model=toy_classifier",
            "dataset=toy",
            "run_type=train",
            f"training.max_updates={updates}",
            "training.batch_size=128",
            f"training.checkpoint_interval={updates}",
            f"training.evaluation_interval={updates * 10}",
            "training.log_interval=50",
            "training.progress_bar=false",
            "model_config.toy_classifier.hidden_size=1024",
            "dataset_config.toy.sizes.train=4096",
            f"env.save_dir={save_dir}",
        ]
    )


def time_runtime(updates: int, args=None) -> tuple[float, float]:
    """(training-loop seconds, whole fit seconds incl. set-up) through the runtime."""
    build = IMGTUNE.config_for if args is not None and args.model == "imgtune" else config_for
    with tempfile.TemporaryDirectory() as save_dir:
        result = run_training(build(updates, save_dir, args))
        return result["train_loop_seconds"], result["train_seconds"]


def time_plain_loop(updates: int, args=None) -> float:
    if args is not None and args.model == "imgtune":
        return IMGTUNE.time_bare_hf_loop(updates, args)
    with tempfile.TemporaryDirectory() as save_dir:
        config = config_for(updates, save_dir)
        torch.manual_seed(1)
        model = build_model(config)
        data = MMFDataModule(config)
        data.prepare_data()
        data.setup("fit")
        optimizer = build_optimizer(model, config)
        start = time.perf_counter()
        model.train()
        done = 0
        while done < updates:
            for batch in data.train_dataloader():
                loss = sum(model(batch)["losses"].values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done += 1
                if done == updates:
                    break
        return time.perf_counter() - start


# Qwen2-0.5B's architecture (config.json of Qwen/Qwen2-0.5B), built with random weights.
QWEN2_0_5B = {
    "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "max_position_embeddings": 4096, "rope_theta": 1000000.0, "tie_word_embeddings": True,
}  # fmt: skip


class IMGTUNE:
    """ImgTune prefix captioning through mmf_run vs the same math as a bare HF loop.

    ``args`` fields: updates-independent sizes (``layers``, ``hidden``, ``batch_size``) and,
    optionally, ``lm`` ("llama" or "qwen2_0_5b"), ``accelerator`` ("cpu"/"gpu"),
    ``precision`` (mmf_run's, e.g. "bf16-mixed"), ``seq_len``, ``regions``, ``feature_dim``
    (benchmarks/gpu_check.py sets them).
    """

    WORDS = [f"w{i}" for i in range(120)]
    DATASET = "image_text_jsonl"

    @classmethod
    def options(cls, args) -> dict:
        return {
            "lm": getattr(args, "lm", "llama"),
            "accelerator": getattr(args, "accelerator", "cpu"),
            "precision": str(getattr(args, "precision", "32")),
            "seq_len": int(getattr(args, "seq_len", 24)),
            "regions": int(getattr(args, "regions", 16)),
            "feature_dim": int(getattr(args, "feature_dim", 128)),
        }

    @classmethod
    def lm_overrides(cls, args) -> list[str]:
        lm = "model_config.imgtune.lm.config"
        if cls.options(args)["lm"] == "qwen2_0_5b":
            spec = ", ".join(f"{k}: {v}" for k, v in QWEN2_0_5B.items())
            return [f"{lm}={{{spec}}}"]
        return [f"{lm}.vocab_size=128", f"{lm}.hidden_size={args.hidden}",
                f"{lm}.intermediate_size={2 * args.hidden}",
                f"{lm}.num_hidden_layers={args.layers}", f"{lm}.num_attention_heads=4",
                f"{lm}.num_key_value_heads=4"]  # fmt: skip

    @classmethod
    def config_for(cls, updates: int, save_dir: str, args):
        return build_config(cls.overrides(updates, save_dir, args))

    @classmethod
    def overrides(cls, updates: int, save_dir: str, args) -> list[str]:
        """mmf_run's command-line overrides (the data is written under save_dir/data)."""
        opts = cls.options(args)
        data_dir = Path(save_dir) / "data"
        if not (data_dir / "datasets").is_dir():
            write_caption_features(
                data_dir, cls.WORDS, regions=opts["regions"], feature_dim=opts["feature_dim"]
            )
        tokenizer = "{word_level: {words: [" + ", ".join(cls.WORDS) + "]}}"
        params = f"dataset_config.{cls.DATASET}.processors.text_processor"
        return [
            "model=imgtune",
            f"dataset={cls.DATASET}",
            "run_type=train",
            f"env.data_dir={data_dir}",
            f"env.save_dir={save_dir}",
            f"training.max_updates={updates}",
            f"training.batch_size={args.batch_size}",
            f"training.checkpoint_interval={updates}",
            f"training.evaluation_interval={updates * 10}",
            "training.log_interval=50",
            "training.progress_bar=false",
            "training.num_workers=0",
            f"training.accelerator={opts['accelerator']}",
            f"training.precision={opts['precision']}",
            f"dataset_config.{cls.DATASET}.max_features={opts['regions']}",
            f"{params}.type=llm_prompt",
            f"{params}.params.tokenizer={tokenizer}",
            f"{params}.params.max_seq_length={opts['seq_len']}",
            f"model_config.imgtune.tokenizer={tokenizer}",
            "model_config.imgtune.task=generation",
            "model_config.imgtune.fusion=prefix",
            "model_config.imgtune.lm_training=full",
            "model_config.imgtune.dropout=0.0",
            f"model_config.imgtune.region_encoder.feature_dim={opts['feature_dim']}",
            *cls.lm_overrides(args),
        ]

    @classmethod
    def time_bare_hf_loop(cls, updates: int, args) -> float:
        """The HF LLM called directly with inputs_embeds (visual prefix + text) and labels."""
        import contextlib

        import lightning.pytorch as pl

        opts = cls.options(args)
        device = torch.device("cuda" if opts["accelerator"] == "gpu" else "cpu")
        autocast = (
            torch.autocast(device.type, dtype=torch.bfloat16)
            if opts["precision"] == "bf16-mixed"
            else contextlib.nullcontext()
        )
        with tempfile.TemporaryDirectory() as save_dir:
            config = cls.config_for(updates, save_dir, args)
            pl.seed_everything(int(config.training.seed), verbose=False)
            model = build_model(config).to(device)  # for its region encoder and LLM weights
            hf_model, encoder = model.lm, model.region_encoder
            data = MMFDataModule(config)
            data.prepare_data()
            data.setup("fit")
            optimizer = build_optimizer(model, config)
            _sync(device)
            start = time.perf_counter()
            model.train()
            done = 0
            while done < updates:
                for batch in data.train_dataloader():
                    batch = batch.to(device)
                    with autocast:
                        loss = cls.bare_loss(hf_model, encoder, batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    done += 1
                    if done == updates:
                        break
            _sync(device)
            return time.perf_counter() - start

    @staticmethod
    def bare_loss(hf_model, encoder, batch) -> torch.Tensor:
        info = batch["image_info_0"]
        visual = encoder(batch["image_feature_0"], info["num_boxes"], info["boxes_5d"], None)
        text = hf_model.get_input_embeddings()(batch["input_ids"])
        embeds = torch.cat([visual["tokens"].to(text.dtype), text], dim=1)  # (B, P + T, H)
        mask = torch.cat([visual["mask"].long(), batch["input_mask"].long()], dim=1)
        ignore = torch.full(visual["mask"].shape, -100, dtype=torch.long, device=mask.device)
        labels = torch.cat([ignore, batch["labels"]], dim=1)
        return hf_model(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="toy_classifier", choices=["toy_classifier", "imgtune"])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument("--layers", type=int, default=4, help="imgtune: LLM decoder layers")
    parser.add_argument("--hidden", type=int, default=256, help="imgtune: LLM width")
    parser.add_argument("--batch-size", type=int, default=16, help="imgtune: batch size")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runtime, fit, plain = [], [], []
    time_plain_loop(min(20, args.updates), args)  # warm-up: imports, allocator, thread pools
    time_runtime(min(20, args.updates), args)
    for repeat in range(args.repeats):
        # Measured: whichever loop runs second in a repeat was slower (by up to 10%), so the
        # order alternates, and each starts after a full garbage collection of the last one.
        for side in ("plain", "runtime") if repeat % 2 == 0 else ("runtime", "plain"):
            gc.collect()
            if side == "plain":
                plain.append(time_plain_loop(args.updates, args))
            else:
                loop_seconds, fit_seconds = time_runtime(args.updates, args)
                runtime.append(loop_seconds)
                fit.append(fit_seconds)
        print(
            f"repeat {repeat}: plain {plain[-1]:.2f}s  mmf_run loop {runtime[-1]:.2f}s "
            f"(fit incl. set-up {fit[-1]:.2f}s)  speed {plain[-1] / runtime[-1]:.3f}",
            flush=True,
        )
    median_plain = statistics.median(plain)
    bare = "bare HF loop" if args.model == "imgtune" else "plain loop"
    print(f"model: {args.model}")
    print(f"median {bare}: {median_plain:.2f}s for {args.updates} updates")
    print(f"median mmf_run loop:  {statistics.median(runtime):.2f}s")
    print(
        f"median mmf_run fit:   {statistics.median(fit):.2f}s (one-off start-up: data set-up, "
        "loggers, final checkpoint)"
    )
    print(f"fit ratio (start-up included): {statistics.median(fit) / median_plain:.3f}")
    print(f"ratio: {statistics.median(runtime) / median_plain:.3f}")
    print(f"speed: {median_plain / statistics.median(runtime):.3f} (bare / mmf_run)")
    # Each repeat's two timings ran back to back, so their ratio is the least disturbed by a
    # machine whose load drifts between repeats.
    paired = statistics.median(p / r for p, r in zip(plain, runtime))
    print(f"paired speed: {paired:.3f} (median over repeats of bare / mmf_run)")


if __name__ == "__main__":
    main()
