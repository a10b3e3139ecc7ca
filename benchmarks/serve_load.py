"""Load on ``mmf_imgtune_serve``: concurrent clients, batching on vs off, loopback only.

    python benchmarks/serve_load.py EXPORT_DIR --image x.png [--boxes '[[x1, y1, x2, y2]]']
        [--objects '[3]'] [--question "what colour is the circle?"] [--clients 8]
        [--requests 48] [--max-tokens 4] [--repeats 2] [--threads N]

Serves the export on 127.0.0.1 (a free port) twice per repeat: batching on (``max_batch`` =
clients) and off (``max_batch`` 1), alternating. ``--clients`` threads of the official
``openai`` client send ``--requests`` chat completions in all (greedy, ``--max-tokens``),
each waiting for its answer before sending the next. Prints requests/s and p50/p95 latency
per mode (medians over repeats) and whether both modes gave the same answers. Each request
also pools its image's regions (the export's extractor) in the server's thread pool.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import threading
import time

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="an mmf_imgtune_export folder")
    parser.add_argument("--image", required=True)
    parser.add_argument("--boxes", help="JSON [[x1, y1, x2, y2], ...] (models trained on boxes)")
    parser.add_argument("--objects", help="JSON class ids, one per box")
    parser.add_argument("--question", default="what colour is the circle?")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--max-tokens", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    return parser.parse_args()


def messages(args: argparse.Namespace) -> list[dict]:
    with open(args.image, "rb") as handle:
        image = {"url": "data:image/png;base64," + base64.b64encode(handle.read()).decode()}
    if args.boxes:
        image["boxes"] = json.loads(args.boxes)
    if args.objects:
        image["objects"] = json.loads(args.objects)
    parts = [{"type": "image_url", "image_url": image}, {"type": "text", "text": args.question}]
    return [{"role": "user", "content": parts}]


def load(url: str, model: str, args: argparse.Namespace) -> tuple[float, list[float], set]:
    """(seconds, latencies, answers) of ``--requests`` requests from ``--clients`` threads."""
    import openai

    body = messages(args)
    remaining, lock = [args.requests], threading.Lock()
    latencies, answers = [], set()

    def client() -> None:
        api = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            start = time.perf_counter()
            reply = api.chat.completions.create(
                model=model, messages=body, max_tokens=args.max_tokens, temperature=0
            )
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                answers.add(reply.choices[0].message.content)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, answers


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmf_imgtune.inference.pipeline import pipeline
    from mmf_imgtune.inference.server.app import ServeOptions, create_app
    from mmf_imgtune.inference.server.background import BackgroundServer

    pipe = pipeline(args.export)
    modes = {"batch on": args.clients, "batch off": 1}
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in modes}
    answers: dict[str, set] = {name: set() for name in modes}
    for _ in range(args.repeats):
        for name, max_batch in modes.items():
            options = ServeOptions(max_batch=max_batch, max_queue=args.clients * 2)
            app = create_app(pipe, options)
            with BackgroundServer(app) as server:
                warm = argparse.Namespace(**{**vars(args), "requests": args.clients})
                load(server.url, pipe.name, warm)
                before = app.state.batcher.batches
                seconds, latencies, seen = load(server.url, pipe.name, args)
                batches = app.state.batcher.batches - before
            answers[name] |= seen
            figures[name].append(
                (args.requests / seconds, percentile(latencies, 0.5), percentile(latencies, 0.95))
            )
            print(f"  {name}: {args.requests / seconds:.2f} req/s over {batches} batches")
    print(
        f"{args.requests} requests, {args.clients} clients, max_tokens {args.max_tokens}, "
        f"torch threads {torch.get_num_threads()}, medians of {args.repeats} repeats:"
    )
    for name, rows in figures.items():
        rate, p50, p95 = (statistics.median(column) for column in zip(*rows))
        print(f"{name}: {rate:.2f} req/s  p50 {p50 * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms")
    print(f"same answers: {answers['batch on'] == answers['batch off']}")


if __name__ == "__main__":
    main()
