"""ImgTune on shapes dialogues: per-turn accuracy vs a text-only control and single-turn
training, and chat turn latency with and without the KV cache carried across turns.

    python benchmarks/dialogue_shapes.py --out results.json
        [--config projects/imgtune/configs/shapes/dialogue.yaml] [--runs imgtune,text_only,
        single_turn] [--max-updates N] [--eval-dialogues N] [--data-dir DIR] [--save-root DIR]
        [key=value ...]

Runs (``mmf_run`` through ``mmf_imgtune.cli.run.run``, the config's budget unless
``--max-updates``):

- ``imgtune``: the config as is (three-turn dialogues, loss on every answer);
- ``text_only``: the same with ``model_config.imgtune.zero_image_features: true`` (the visual
  tokens are zeros: question text and history only);
- ``single_turn``: trained on each turn alone, without its history
  (``dataset_config.shapes.dialogue_single_turn: true``), evaluated on whole dialogues.

Each trained model answers the held-out (val) dialogues turn by turn with the reference
history (``mmf_imgtune.inference.dialogue_eval``). Then the ImgTune model's chat turns
are timed with the KV cache reused across turns and with every turn re-encoded, over
dialogues of 3 turns and of 6 (the questions asked twice). The target: ImgTune beats the
text-only control on later turns by >= 20 points. Exit code 0 when met (the margin is
computed when both runs are in one invocation; ``--runs`` lets them go in parallel
processes, e.g. with ``OMP_NUM_THREADS=1`` each on a shared 2-core machine, where one thread
per process was several times faster than two). ``benchmarks/chat_cache.py`` times the cache
on a larger random LM with a longer history.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "projects/imgtune/configs/shapes/dialogue.yaml"
RUNS = {
    "imgtune": [],
    "text_only": ["model_config.imgtune.zero_image_features=true"],
    "single_turn": ["dataset_config.shapes.dialogue_single_turn=true"],
}
TARGET_MARGIN = 0.20


def train(config: Path, save_dir: Path, overrides: list[str]) -> float:
    """One mmf_run (train only); returns wall seconds."""
    from mmf_imgtune.cli.run import run

    start = time.perf_counter()
    run([f"config={config}", "run_type=train", f"env.save_dir={save_dir}",
         "training.progress_bar=false", *overrides])  # fmt: skip
    return time.perf_counter() - start


def evaluate(save_dir: Path, limit: int | None, reuse_cache: bool = True, repeat: int = 1):
    from mmf_imgtune.inference.dialogue_eval import (
        evaluate_dialogues,
        load_checkpoint,
        shapes_dialogues,
    )
    from mmf_imgtune.registry import registry

    model, renderer, config = load_checkpoint(save_dir)
    shapes = config.dataset_config.shapes.copy()
    shapes.dialogue_single_turn = False  # evaluation: whole dialogues, for every run
    dataset = registry.get_builder_class("shapes")().load(shapes, "val")
    dialogues = (
        (batch, messages + _repeated(messages, repeat))
        for batch, messages in shapes_dialogues(dataset, limit)
    )
    return evaluate_dialogues(model, renderer, dialogues, 4, reuse_cache)


def _repeated(messages: list[dict], repeat: int) -> list[dict]:
    """The questions asked ``repeat - 1`` more times (without the image marker)."""
    again = [{**m, "content": m["content"].replace("<image>\n", "")} for m in messages]
    return again * (repeat - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--max-updates", type=int, help="override training.max_updates")
    parser.add_argument("--eval-dialogues", type=int, help="val dialogues to score (all)")
    parser.add_argument("--latency-dialogues", type=int, default=50)
    parser.add_argument("--data-dir", help="env.data_dir (default: the config's, ./data)")
    parser.add_argument("--save-root", help="run folders (default: a temporary folder)")
    parser.add_argument("overrides", nargs="*", help="extra mmf_run key=value overrides")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    overrides = list(args.overrides)
    if args.max_updates:
        overrides += [f"training.max_updates={args.max_updates}"]
    if args.data_dir:
        overrides += [f"env.data_dir={args.data_dir}"]
    save_root = Path(args.save_root or tempfile.mkdtemp(prefix="dialogue_shapes_"))
    results: dict = {"runs": {}, "config": str(args.config), "overrides": overrides}
    for name in args.runs.split(","):
        seconds = train(args.config, save_root / name, [*RUNS[name], *overrides])
        scores = evaluate(save_root / name, args.eval_dialogues)
        results["runs"][name] = {**scores, "train_seconds": seconds}
    print(f"\nshapes dialogues ({args.config.name}), val accuracy of generated answers")
    print(f"{'run':<14}{'turn 1':>8}{'turn 2':>8}{'turn 3':>8}{'later':>8}{'train s':>9}")
    for name, r in results["runs"].items():
        turns = "".join(f"{a:>8.3f}" for a in r["turn_accuracy"])
        print(f"{name:<14}{turns}{r['later_turns']:>8.3f}{r['train_seconds']:>9.0f}")
    passed = True
    if {"imgtune", "text_only"} <= set(results["runs"]):
        margin = (
            results["runs"]["imgtune"]["later_turns"] - results["runs"]["text_only"]["later_turns"]
        )
        passed = margin >= TARGET_MARGIN
        results["later_turn_margin"] = margin
        print(f"later turns: ImgTune - text-only = {100 * margin:.1f} points "
              f"(target >= {100 * TARGET_MARGIN:.0f}): {'met' if passed else 'NOT met'}")  # fmt: skip
    first = next(iter(results["runs"]))
    results["latency"] = {}
    print(f"\nchat turn latency ({first}, ms per turn, mean of {args.latency_dialogues} dialogues)")
    for repeat in (1, 2):
        row = {}
        for reuse in (True, False):
            scores = evaluate(save_root / first, args.latency_dialogues, reuse, repeat)
            row["reuse" if reuse else "re_encode"] = [1000 * s for s in scores["turn_seconds"]]
        results["latency"][f"{3 * repeat}_turns"] = row
        for key, values in row.items():
            print(f"{3 * repeat} turns, {key:<10}" + "".join(f"{v:>8.1f}" for v in values))
    Path(args.out).write_text(json.dumps(results, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
