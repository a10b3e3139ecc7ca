"""ImgTune generation with and without the KV cache, side by side in one process.

    python benchmarks/generation_cache.py [--new-tokens 64] [--batch 8] [--beams 1]
        [--layers 4] [--hidden 256] [--fusion both] [--threads 2] [--device cpu]

A random Llama-shaped LLM (``--layers``, ``--hidden``), 36 region boxes and a 24-token prompt;
times ``generate`` for ``--new-tokens`` tokens (EOS never ends it early) with ``generation.use_cache`` true and false, checks both produced the
same tokens (exit 1 if not), and prints the seconds of each and
``speed-up: <uncached / cached>``.
"""

from __future__ import annotations

import argparse
import time

import torch

from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.models.imgtune import ImgTune
from mmf_imgtune.utils.testing import NoEosTokenizer

WORDS = [f"w{i}" for i in range(200)]


def build(args) -> ImgTune:
    config = {
        "fusion": args.fusion,
        "task": "generation",
        "tokenizer": {"word_level": {"words": WORDS}},
        "lm": {"config": {"model_type": "llama", "vocab_size": 256, "hidden_size": args.hidden,
                          "intermediate_size": 2 * args.hidden, "num_hidden_layers": args.layers,
                          "num_attention_heads": 8, "num_key_value_heads": 8,
                          "max_position_embeddings": 512}},
        "region_encoder": {"feature_dim": 64},
        "cross_attention": {"every": 2, "num_heads": 8},
        "dropout": 0.0,
    }  # fmt: skip
    torch.manual_seed(0)
    model = ImgTune(ImgTune.default_config(config)).init_from_config().eval().to(args.device)
    for name, param in model.named_parameters():
        if name.endswith("_gate"):
            param.data.fill_(0.5)  # let the image in at every step
    return model


def batch(args, model) -> SampleList:
    generator = torch.Generator().manual_seed(1)
    size, boxes, prompt = args.batch, 36, 24
    ids = torch.randint(10, 200, (size, prompt), generator=generator)
    return SampleList(
        {
            "prompt_ids": ids,
            "prompt_mask": torch.ones(size, prompt, dtype=torch.long),
            "image_feature_0": torch.randn(size, boxes, 64, generator=generator),
            "image_info_0": {
                "num_boxes": torch.full((size,), boxes),
                "boxes_5d": torch.rand(size, boxes, 5, generator=generator),
            },
        }
    ).to(args.device)


def timed(model, inputs, args, use_cache: bool) -> tuple[float, list[str]]:
    model.config.generation.use_cache = use_cache
    model.generate(inputs, max_new_tokens=2, num_beams=args.beams)  # warm-up
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    texts = model.generate(inputs, max_new_tokens=args.new_tokens, num_beams=args.beams)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--fusion", default="both")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build(args)
    model.tokenizer = NoEosTokenizer(model.tokenizer)  # every run decodes all --new-tokens
    inputs = batch(args, model)
    cached, texts_cached = timed(model, inputs, args, True)
    plain, texts_plain = timed(model, inputs, args, False)
    same = texts_cached == texts_plain
    print(f"{args.layers} layers x {args.hidden}, fusion {args.fusion}, batch {args.batch}, "
          f"beams {args.beams}, {args.new_tokens} new tokens, {args.device}")  # fmt: skip
    print(f"cached:   {cached:7.2f} s")
    print(f"uncached: {plain:7.2f} s")
    print(f"same tokens: {same}")
    print(f"speed-up: {plain / cached:.2f}")
    if not same:
        raise SystemExit("the cached and uncached loops generated different tokens")


if __name__ == "__main__":
    main()
