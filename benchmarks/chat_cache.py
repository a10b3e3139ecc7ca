"""Chat turn latency with the KV cache carried across turns vs the history re-encoded.

    python benchmarks/chat_cache.py [--turns 8] [--layers 4] [--hidden 256] [--boxes 36]
        [--question-words 24] [--answer-tokens 8] [--repeats 3]

A random ImgTune (Llama LM, prefix fusion) talks about one image of random region features
for ``--turns`` turns; every answer is forced to ``--answer-tokens`` tokens (special tokens
can never win). Each turn is timed with ``ChatSession(reuse_cache=True)`` (only the new
question is fed) and ``reuse_cache=False`` (text, visual tokens and all earlier turns are
re-encoded); the two must produce the same tokens. Prints ms per turn (median of
``--repeats``, the two modes alternating) and the speed-up at the last turn.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

WORDS = [f"w{i}" for i in range(40)] + ["user", "assistant", ":"]


def build(args: argparse.Namespace):
    from mmf_imgtune.models.imgtune import ImgTune

    torch.manual_seed(0)
    config = {
        "lm": {
            "config": {
                "model_type": "llama",
                "vocab_size": 64,
                "hidden_size": args.hidden,
                "intermediate_size": 4 * args.hidden,
                "num_hidden_layers": args.layers,
                "num_attention_heads": 4,
                "num_key_value_heads": 4,
                "max_position_embeddings": 4096,
            }
        },
        "tokenizer": {"word_level": {"words": WORDS}},
        "task": "generation",
        "region_encoder": {"feature_dim": 64, "use_box_geometry": False},
        "dropout": 0.0,
    }
    model = ImgTune(ImgTune.default_config(config)).init_from_config().eval()
    specials = model.tokenizer.all_special_ids
    model.lm.get_output_embeddings().weight.data[specials] = -1.0  # never chosen
    return model


def converse(model, renderer, batch, questions, tokens, reuse):
    from mmf_imgtune.inference.chat import ChatSession

    session = ChatSession(model, renderer, tokens, reuse)
    session.set_image(batch)
    seconds, answers = [], []
    for question in questions:
        start = time.perf_counter()
        answers.append(session.ask(question))
        seconds.append(time.perf_counter() - start)
    return seconds, answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--boxes", type=int, default=36)
    parser.add_argument("--question-words", type=int, default=24)
    parser.add_argument("--answer-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from mmf_imgtune.common.sample import Sample, SampleList
    from mmf_imgtune.data.conversation import ChatRenderer

    model = build(args)
    renderer = ChatRenderer(model.tokenizer)
    generator = torch.Generator().manual_seed(1)
    sample = Sample({"image_feature_0": torch.randn(args.boxes, 64, generator=generator),
                     "image_info_0": {"num_boxes": torch.tensor(args.boxes)}})  # fmt: skip
    batch = SampleList([sample])
    questions = [
        " ".join(WORDS[(7 * t + i) % 40] for i in range(args.question_words))
        for t in range(args.turns)
    ]
    timings: dict[bool, list[list[float]]] = {True: [], False: []}
    answers: dict[bool, list[str]] = {}
    with torch.no_grad():
        for _ in range(args.repeats):
            for reuse in (True, False):
                seconds, answers[reuse] = converse(
                    model, renderer, batch, questions, args.answer_tokens, reuse
                )
                timings[reuse].append(seconds)
    if answers[True] != answers[False]:
        print("the two modes generated different tokens")
        return 1
    median = {k: [statistics.median(r[t] for r in v) for t in range(args.turns)]
              for k, v in timings.items()}  # fmt: skip
    print(f"ImgTune chat, Llama {args.layers}x{args.hidden}, {args.boxes} visual tokens, "
          f"{args.question_words}-word questions, {args.answer_tokens}-token answers, "
          f"{torch.get_num_threads()} threads; ms per turn (median of {args.repeats})")  # fmt: skip
    print("turn        " + "".join(f"{t + 1:>8}" for t in range(args.turns)))
    for reuse, name in ((True, "reuse"), (False, "re-encode")):
        print(f"{name:<12}" + "".join(f"{1000 * s:>8.1f}" for s in median[reuse]))
    print(f"last turn: {median[False][-1] / median[True][-1]:.2f}x faster with reuse "
          "(same tokens)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
