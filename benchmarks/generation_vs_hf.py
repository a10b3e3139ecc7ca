"""ImgTune's decoding against ``transformers``' own ``generate(inputs_embeds=...)``.

    python benchmarks/generation_vs_hf.py [--new-tokens 32] [--batch 8] [--beams 1 3]
        [--layers 4] [--hidden 256] [--repeats 3] [--threads 2] [--device cpu] [--profile]

One random Llama-shaped LLM (``--layers`` x ``--hidden``) inside ImgTune (prefix fusion), 36
region boxes and a 24-token prompt per sample. For each beam width, alternating ``--repeats``
times: ``ImgTune.generate`` (region encoder, prompt embedding and decoding) and HF
``generate`` on the same LLM with the same prefix (visual tokens + prompt embeddings, built
once outside its clock), both for exactly ``--new-tokens`` tokens (no token is EOS). Prints
tokens/s of each, ``ratio: <ImgTune / HF>`` (target >= 1.0) and whether both chose the same
tokens. ``--profile`` adds the functions ImgTune's decoding spends its time in (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import time

import torch

# The sibling script's tokenizer pieces (run as python benchmarks/generation_vs_hf.py).
from generation_cache import WORDS  # noqa: E402

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.models.imgtune import ImgTune
from mmf_imgtune.models.imgtune.generation import decode_tokens
from mmf_imgtune.utils.testing import NoEosTokenizer

BOXES, PROMPT, FEATURE_DIM = 36, 24, 64


def build(args) -> ImgTune:
    config = {
        "fusion": "prefix",
        "task": "generation",
        "tokenizer": {"word_level": {"words": WORDS}},
        "lm": {"config": {"model_type": "llama", "vocab_size": 256, "hidden_size": args.hidden,
                          "intermediate_size": 2 * args.hidden, "num_hidden_layers": args.layers,
                          "num_attention_heads": 8, "num_key_value_heads": 8,
                          "max_position_embeddings": 512}},
        "region_encoder": {"feature_dim": FEATURE_DIM},
        "dropout": 0.0,
    }  # fmt: skip
    torch.manual_seed(0)
    model = ImgTune(ImgTune.default_config(config)).init_from_config().eval().to(args.device)
    model.tokenizer = NoEosTokenizer(model.tokenizer)  # every run decodes all --new-tokens
    model.lm.generation_config.eos_token_id = None  # and so does HF's
    model.lm.generation_config.pad_token_id = 0
    return model


def make_batch(args) -> SampleList:
    generator = torch.Generator().manual_seed(1)
    size = args.batch
    return SampleList(
        {
            "prompt_ids": torch.randint(10, 200, (size, PROMPT), generator=generator),
            "prompt_mask": torch.ones(size, PROMPT, dtype=torch.long),
            "image_feature_0": torch.randn(size, BOXES, FEATURE_DIM, generator=generator),
            "image_info_0": {
                "num_boxes": torch.full((size,), BOXES),
                "boxes_5d": torch.rand(size, BOXES, 5, generator=generator),
            },
        }
    ).to(args.device)


@torch.no_grad()
def hf_prefix(model: ImgTune, batch: SampleList) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs ImgTune's LLM sees: (B, P + T, H) embeddings and their (B, P + T) mask."""
    visual = model.encode_regions(batch)
    embeds = torch.cat([visual["tokens"], model.embed_text(batch["prompt_ids"])], dim=1)
    mask = torch.cat([visual["mask"].long(), batch["prompt_mask"].long()], dim=1)
    return embeds, mask


def _sync(args) -> None:
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()


def run_imgtune(model, batch, args, beams: int) -> tuple[float, list[str]]:
    _sync(args)
    start = time.perf_counter()
    texts = model.generate(batch, max_new_tokens=args.new_tokens, num_beams=beams)
    _sync(args)
    return time.perf_counter() - start, texts


@torch.no_grad()
def run_hf(model, prefix, args, beams: int) -> tuple[float, list[str]]:
    embeds, mask = prefix
    _sync(args)
    start = time.perf_counter()
    tokens = model.lm.generate(
        inputs_embeds=embeds,
        attention_mask=mask,
        max_new_tokens=args.new_tokens,
        do_sample=False,
        num_beams=beams,
        length_penalty=1.0,
        early_stopping=False,
    )
    _sync(args)
    return time.perf_counter() - start, decode_tokens(model.tokenizer, tokens, -1)


def compare(model, batch, prefix, args, beams: int) -> dict:
    run_imgtune(model, batch, args, beams)  # warm-up: first-call allocations
    run_hf(model, prefix, args, beams)
    ours, theirs = [], []
    for repeat in range(args.repeats):
        # Alternate which runs first, each after a full garbage collection (as
        # trainer_overhead.py does: there the second of a pair ran slower).
        for side in ("ours", "hf") if repeat % 2 == 0 else ("hf", "ours"):
            gc.collect()
            if side == "ours":
                seconds, our_texts = run_imgtune(model, batch, args, beams)
                ours.append(seconds)
            else:
                seconds, hf_texts = run_hf(model, prefix, args, beams)
                theirs.append(seconds)
    tokens = args.batch * args.new_tokens
    ours_tps = tokens / statistics.median(ours)
    hf_tps = tokens / statistics.median(theirs)
    return {"imgtune": ours_tps, "hf": hf_tps, "same": our_texts == hf_texts}


def profile(model, batch, args, beams: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_imgtune(model, batch, args, beams)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = build(args)
    batch = make_batch(args)
    prefix = hf_prefix(model, batch)
    print(f"{args.layers} layers x {args.hidden}, prefix fusion, batch {args.batch}, "
          f"{BOXES} boxes + {PROMPT} prompt tokens, {args.new_tokens} new tokens, {args.device}")  # fmt: skip
    same_everywhere = True
    for beams in args.beams:
        name = "greedy" if beams == 1 else f"beam {beams}"
        result = compare(model, batch, prefix, args, beams)
        same_everywhere &= result["same"]
        print(
            f"{name}: imgtune {result['imgtune']:.1f} tokens/s  HF generate "
            f"{result['hf']:.1f} tokens/s  ratio: {result['imgtune'] / result['hf']:.2f}  "
            f"same tokens: {result['same']}",
            flush=True,
        )
        if args.profile:
            print(profile(model, batch, args, beams))
    return 0 if same_everywhere else 1


if __name__ == "__main__":
    raise SystemExit(main())
