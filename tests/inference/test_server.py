"""``mmf_imgtune_serve`` end to end with the official ``openai`` client on 127.0.0.1: answers
equal the pipeline's, streaming yields the same text, concurrent requests share a batch, a
full queue answers 503 with Retry-After, bad inputs answer 4xx naming the field."""

import base64
import concurrent.futures
import threading
import time
from pathlib import Path

import httpx
import pytest

openai = pytest.importorskip("openai")

from mmf_imgtune.inference.pipeline import pipeline  # noqa: E402
from mmf_imgtune.inference.server.app import ServeOptions, create_app  # noqa: E402
from mmf_imgtune.inference.server.background import BackgroundServer  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe(tiny_exports):
    return pipeline(tiny_exports["both", False])


@pytest.fixture(scope="module")
def server(pipe, questions):
    folder = Path(questions[0]["image"]).parent
    options = ServeOptions(max_image_bytes=200_000, allow_folder=folder)
    with BackgroundServer(create_app(pipe, options)) as running:
        yield running


def client_of(url):
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)


def message(row, url=None, text=None):
    if url is None:
        with open(row["image"], "rb") as handle:
            url = "data:image/png;base64," + base64.b64encode(handle.read()).decode()
    image = {"url": url, "boxes": row["boxes"], "objects": row["objects"]}
    return [{"role": "user", "content": [{"type": "image_url", "image_url": image},
                                         {"type": "text", "text": text or row["question"]}]}]  # fmt: skip


def ask(url, row, **options):
    reply = client_of(url).chat.completions.create(model=options.pop("model", "both_False"),
                                                   messages=message(row), **options)  # fmt: skip
    return reply.choices[0].message.content


def test_answers_equal_the_pipeline_and_streams_say_the_same(server, pipe, questions):
    client = client_of(server.url)
    assert [m.id for m in client.models.list().data] == ["both_False"]
    rows = questions[::3]
    expected = pipe([r["image"] for r in rows], [r["question"] for r in rows],
                    boxes=[r["boxes"] for r in rows], objects=[r["objects"] for r in rows],
                    max_new_tokens=3)  # fmt: skip
    answers = [ask(server.url, row, max_tokens=3, temperature=0) for row in rows]
    assert answers == expected and len(set(expected)) > 1
    for row, text in zip(rows[:3], expected):
        stream = client.chat.completions.create(model="both_False", messages=message(row),
                                                max_tokens=3, stream=True)  # fmt: skip
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
        assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_sampling_repeats_with_a_seed(server, questions):
    row = questions[0]
    first = [ask(server.url, row, max_tokens=4, temperature=1.5, seed=s) for s in range(6)]
    again = [ask(server.url, row, max_tokens=4, temperature=1.5, seed=s) for s in range(6)]
    assert first == again and len(set(first)) > 1  # seeds differ, answers differ


def test_file_paths_only_inside_the_allowed_folder(server, questions, tmp_path):
    row = questions[0]
    allowed = client_of(server.url).chat.completions.create(
        model="both_False", messages=message(row, url=row["image"]), max_tokens=3
    )
    assert allowed.choices[0].message.content == ask(server.url, row, max_tokens=3)
    outside = tmp_path / "x.png"
    outside.write_bytes(open(row["image"], "rb").read())
    with pytest.raises(openai.BadRequestError) as error:
        client_of(server.url).chat.completions.create(
            model="both_False", messages=message(row, url=str(outside))
        )
    assert error.value.body["param"] == "messages[0].content[0].image_url.url"


@pytest.mark.parametrize(
    "change, status, param, words",
    [
        ({"model": "other"}, 404, "model", "unknown model"),
        ({"max_tokens": 500}, 400, "max_tokens", "more than the model's context"),
        ({"text": "what colour " * 30}, 400, "messages", "max_seq_length"),
        ({"url": "data:image/png;base64,bm90IGFuIGltYWdl"}, 400,
         "messages[0].content[0].image_url.url", "not an image"),
        ({"url": "data:image/png;base64," + "A" * 400_000}, 413,
         "messages[0].content[0].image_url.url", "larger than"),
        ({"boxes": [[5, 5, 2, 2]]}, 400, "messages[0].content[0].image_url.boxes", "x2 > x1"),
        ({"turns": 2}, 400, "messages", "one question"),
        ({"temperature": -1}, 400, "temperature", "in [0, 2]"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_field_and_the_server_lives_on(server, questions, change, status,
                                                            param, words):  # fmt: skip
    row = questions[0]
    messages = message(row, url=change.get("url"), text=change.get("text"))
    if "boxes" in change:
        messages[0]["content"][0]["image_url"].update(boxes=change["boxes"], objects=None)
    if "turns" in change:
        messages += [{"role": "assistant", "content": "red"}, {"role": "user", "content": "and?"}]
    options = {k: change[k] for k in ("max_tokens", "temperature") if k in change}
    with pytest.raises(openai.APIStatusError) as error:
        client_of(server.url).chat.completions.create(
            model=change.get("model", "both_False"), messages=messages, **options
        )
    assert error.value.status_code == status
    assert error.value.body["param"] == param and words in error.value.body["message"]
    assert httpx.get(server.url + "/health", timeout=30).json()["status"] == "ok"
    assert ask(server.url, row, max_tokens=2)  # still answering


class Gate:
    """Holds the decoding thread at its next batch until opened (deterministic queueing)."""

    def __init__(self, pipe):
        self.pipe, self.original, self.event = pipe, pipe.generate, threading.Event()
        self.sizes = []

    def __call__(self, samples, *args, **kwargs):
        self.sizes.append(len(samples))
        assert self.event.wait(120), "the test never opened the gate"
        return self.original(samples, *args, **kwargs)


def wait_health(url, **wanted):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = httpx.get(url + "/health", timeout=30).json()
        if all(health[k] == v for k, v in wanted.items()):
            return health
        time.sleep(0.02)
    raise AssertionError(f"/health never reached {wanted}: {health}")


def test_concurrent_requests_share_a_batch_and_a_full_queue_answers_503(tiny_exports, questions,
                                                                        monkeypatch):  # fmt: skip
    pipe = pipeline(tiny_exports["both", False])
    gate = Gate(pipe)
    monkeypatch.setattr(pipe, "generate", gate)
    rows = questions[:4]
    options = ServeOptions(max_batch=8, max_queue=3, wait_ms=0)
    with BackgroundServer(create_app(pipe, options)) as running, \
            concurrent.futures.ThreadPoolExecutor(4) as pool:  # fmt: skip
        first = pool.submit(ask, running.url, rows[0], max_tokens=3)
        wait_health(running.url, decoding=1)
        waiting = [pool.submit(ask, running.url, row, max_tokens=3) for row in rows[1:]]
        wait_health(running.url, queued=3)
        with pytest.raises(openai.APIStatusError) as busy:
            ask(running.url, rows[0], max_tokens=3)
        assert busy.value.status_code == 503 and busy.value.response.headers["Retry-After"]
        gate.event.set()
        answers = [first.result(120)] + [f.result(120) for f in waiting]
    assert gate.sizes == [1, 3]  # the three waiting requests were decoded as one batch
    expected = pipe([r["image"] for r in rows], [r["question"] for r in rows],
                    boxes=[r["boxes"] for r in rows], objects=[r["objects"] for r in rows],
                    max_new_tokens=3)  # fmt: skip
    assert answers == expected
