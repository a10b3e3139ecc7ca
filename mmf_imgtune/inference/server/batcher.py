"""Requests decoded together: a bounded queue in front of one decoding thread.

Each request is prepared (image decoded, regions pooled, prompt tokenised) in the web
server's thread pool, then queued as a ``Job``. The decoding thread takes the oldest job and
whatever else is waiting (up to ``max_batch``, after at most ``wait_ms``), decodes them as one
batch (``Pipeline.generate``: greedy rows take the argmax, sampled rows draw from their own
seeded generator, each row stops at its own ``max_tokens``) and hands each step's text to the
streaming requests as it is chosen. A full queue refuses at once (``QueueFull``: the server
answers 503 with Retry-After), so a burst never hangs a client. ``max_batch=1`` turns
batching off (the load benchmark's baseline).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from mmf_imgtune.inference.pipeline import Pipeline


class QueueFull(Exception):
    """The bounded queue holds ``max_queue`` jobs already."""


@dataclass
class Job:
    """One request's decoding: its sample, limits and where its results go."""

    sample: Any
    max_tokens: int
    temperature: float
    seed: int | None
    loop: asyncio.AbstractEventLoop
    pieces: asyncio.Queue | None = None  # streaming: text pieces, then None
    done: asyncio.Future | None = None
    tokens: list[int] = field(default_factory=list)
    finished: str | None = None  # "stop" | "length"
    shown: str = ""

    def emit(self, piece: str | None) -> None:
        if self.pieces is not None:
            self.loop.call_soon_threadsafe(self.pieces.put_nowait, piece)


class Batcher:
    """Args:
    pipe: the model's pipeline.
    max_batch: most requests decoded together (1: no batching).
    max_queue: most requests waiting; one more is refused (``QueueFull``).
    wait_ms: how long the first request waits for others to join its batch.
    """

    def __init__(self, pipe: Pipeline, max_batch: int = 8, max_queue: int = 64, wait_ms: float = 5):
        self.pipe, self.max_batch, self.wait = pipe, int(max_batch), float(wait_ms) / 1000
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=int(max_queue))
        self.running = 0  # jobs being decoded now
        self.batches = 0
        self.thread = threading.Thread(target=self._loop, name="imgtune-decoder", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> None:
        job.done = job.loop.create_future()
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"{self.queue.maxsize} requests are waiting already") from None

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=30)

    # --- the decoding thread -------------------------------------------------------------
    def _take(self) -> list[Job] | None:
        first = self.queue.get()
        if first is None:
            return None
        jobs, deadline = [first], time.monotonic() + self.wait
        while len(jobs) < self.max_batch:
            try:
                job = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                self.queue.put(None)  # close after this batch
                break
            jobs.append(job)
        return jobs

    def _loop(self) -> None:
        while (jobs := self._take()) is not None:
            self.running = len(jobs)
            try:
                self._decode(jobs)
            except Exception as error:  # a request must never take the server down
                for job in jobs:
                    job.emit(None)
                    job.loop.call_soon_threadsafe(_fail, job.done, error)
            finally:
                self.running = 0
                self.batches += 1

    def _decode(self, jobs: list[Job]) -> None:
        stop = self.pipe.stop_id
        decode = self.pipe.tokenizer.decode
        generators = [_generator(job) for job in jobs]

        def choose(logits: torch.Tensor) -> torch.Tensor:
            tokens = logits.argmax(dim=-1)
            for row, job in enumerate(jobs):
                if job.temperature > 0:
                    probs = (logits[row].float() / job.temperature).softmax(-1).cpu()
                    tokens[row] = int(torch.multinomial(probs, 1, generator=generators[row]))
            return tokens

        def on_step(step: torch.Tensor) -> None:
            for job, token in zip(jobs, step.tolist()):
                if job.finished:
                    continue
                if token == stop:
                    job.finished = "stop"
                    continue
                job.tokens.append(token)
                text = decode(job.tokens, skip_special_tokens=True).strip()
                if text.startswith(job.shown) and len(text) > len(job.shown):
                    job.emit(text[len(job.shown) :])
                    job.shown = text
                if len(job.tokens) >= job.max_tokens:
                    job.finished = "length"

        limit = max(job.max_tokens for job in jobs)
        self.pipe.generate([job.sample for job in jobs], limit, 1, choose=choose, on_step=on_step)
        for job in jobs:
            text = decode(job.tokens, skip_special_tokens=True).strip()
            if text.startswith(job.shown) and len(text) > len(job.shown):
                job.emit(text[len(job.shown) :])
            job.emit(None)
            result = {"text": text, "finish_reason": job.finished or "length",
                      "completion_tokens": len(job.tokens)}  # fmt: skip
            job.loop.call_soon_threadsafe(_succeed, job.done, result)


def _generator(job: Job) -> torch.Generator | None:
    if job.temperature <= 0:
        return None
    generator = torch.Generator()
    generator.manual_seed(job.seed if job.seed is not None else int(torch.seed() % 2**63))
    return generator


def _succeed(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
