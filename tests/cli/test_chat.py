"""``mmf_imgtune_chat`` end to end: a tiny dialogue run on shapes, then a scripted chat."""

import io

import pytest

from mmf_imgtune.cli.chat import main

pytestmark = pytest.mark.slow  # trains for 3 updates and extracts MobileNetV2 features


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


def test_chat_streams_answers_keeps_history_and_switches_images(dialogue_run, monkeypatch, capsys):
    checkpoint, images = dialogue_run
    answers, err = chat(monkeypatch, capsys, checkpoint, images, SCRIPT)
    assert len(answers) == 4  # one line per question; commands print nothing on stdout
    assert answers[2] == answers[0]  # /reset: the same first question, the same answer
    assert "conversation reset" in err and f"new conversation about {images[1][0]}" in err
    # Re-encoding every turn gives the same answers as the cache kept across turns.
    fresh, _ = chat(monkeypatch, capsys, checkpoint, images, SCRIPT, "--no-cache-reuse")
    assert fresh == answers


def test_chat_reports_bad_images_and_keeps_going(dialogue_run, monkeypatch, capsys, tmp_path):
    checkpoint, images = dialogue_run
    lines = ["/image " + str(tmp_path / "missing.png"), "/image", "what colour is the circle?"]
    answers, err = chat(monkeypatch, capsys, checkpoint, images, lines)
    assert len(answers) == 1 and "missing.png" in err and "usage: /image" in err
