"""``mmf_imgtune_chat`` end to end: a tiny dialogue run on shapes, then a scripted chat."""

import io
import json

import pytest
import torch

from mmf_imgtune.cli.chat import main

pytestmark = pytest.mark.slow  # trains for 3 updates and extracts MobileNetV2 features

CONFIG = "projects/imgtune/configs/shapes/dialogue.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mmf_imgtune.cli.run import run

    root = tmp_path_factory.mktemp("chat")
    torch.manual_seed(0)
    run([f"config={CONFIG}", "run_type=train", f"env.data_dir={root / 'data'}",
         f"env.save_dir={root / 'save'}", "dataset_config.shapes.sizes={train: 16, val: 4, test: 4}",
         "training.max_updates=3", "training.batch_size=8", "training.checkpoint_interval=3",
         "training.progress_bar=false"])  # fmt: skip
    shapes = root / "data" / "shapes"
    records = [json.loads(line) for line in (shapes / "annotations" / "train.jsonl").open()]
    images = [(str(shapes / r["image"]), json.dumps([o["bbox"] for o in r["objects"]]))
              for r in records[:2]]  # fmt: skip
    return root / "save" / "current.ckpt", images


def chat(monkeypatch, capsys, checkpoint, images, lines, *flags):
    (first, boxes), (second, second_boxes) = images
    script = [line.format(second=second, boxes=second_boxes) for line in lines]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(script) + "\n"))
    code = main(["--checkpoint", str(checkpoint), "--image", first, "--boxes", boxes,
                 "--max-new-tokens", "3", *flags])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines(), err


SCRIPT = [
    "what colour is the circle?",
    "and how many objects share that colour?",
    "/reset",
    "what colour is the circle?",
    "/image {second} {boxes}",
    "what shape is the red object?",
    "/quit",
    "never read",
]


def test_chat_streams_answers_keeps_history_and_switches_images(trained, monkeypatch, capsys):
    checkpoint, images = trained
    answers, err = chat(monkeypatch, capsys, checkpoint, images, SCRIPT)
    assert len(answers) == 4  # one line per question; commands print nothing on stdout
    assert answers[2] == answers[0]  # /reset: the same first question, the same answer
    assert "conversation reset" in err and f"new conversation about {images[1][0]}" in err
    # Re-encoding every turn gives the same answers as the cache kept across turns.
    fresh, _ = chat(monkeypatch, capsys, checkpoint, images, SCRIPT, "--no-cache-reuse")
    assert fresh == answers


def test_chat_reports_bad_images_and_keeps_going(trained, monkeypatch, capsys, tmp_path):
    checkpoint, images = trained
    lines = ["/image " + str(tmp_path / "missing.png"), "/image", "what colour is the circle?"]
    answers, err = chat(monkeypatch, capsys, checkpoint, images, lines)
    assert len(answers) == 1 and "missing.png" in err and "usage: /image" in err
