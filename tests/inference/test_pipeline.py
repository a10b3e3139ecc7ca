"""``mmf_imgtune.pipeline``: a raw test image and its question get the answer ``mmf_predict``
gave from the stored features (regions made by the exported recipe); lists are batched;
classifier exports answer labels and scores."""

import base64
import io
import sys

import pytest
from PIL import Image

import mmf_imgtune
from mmf_imgtune.inference.raw_image import InputError

pytestmark = pytest.mark.slow


def _columns(rows):
    return ([r["image"] for r in rows], [r["question"] for r in rows],
            [r["boxes"] for r in rows], [r["objects"] for r in rows])  # fmt: skip


@pytest.mark.parametrize("source", ["export", "merged_export", "checkpoint"])
def test_raw_test_images_get_the_answers_of_mmf_predict(tiny_runs, tiny_exports, questions,
                                                        source):  # fmt: skip
    run = tiny_runs["both"]
    path = {"export": tiny_exports["both", False], "merged_export": tiny_exports["both", True],
            "checkpoint": run["save"] / "current.ckpt"}[source]  # fmt: skip
    pipe = mmf_imgtune.pipeline(path, device="cpu")
    images, prompts, boxes, objects = _columns(questions)
    answers = pipe(images, prompts, boxes=boxes, objects=objects)
    expected = {row["id"]: row["answer"] for row in run["predictions"]}
    assert answers == [expected[row["id"]] for row in questions]
    assert len(set(answers)) > 1


def test_one_image_in_any_form_and_batches_equal_single_calls(tiny_exports, questions):
    pipe = mmf_imgtune.pipeline(tiny_exports["prefix", False])
    row = questions[1]
    single = pipe(row["image"], row["question"], boxes=row["boxes"], objects=row["objects"])
    data = open(row["image"], "rb").read()
    forms = [data, "data:image/png;base64," + base64.b64encode(data).decode(),
             Image.open(io.BytesIO(data))]  # fmt: skip
    for form in forms:
        assert pipe(form, row["question"], boxes=row["boxes"], objects=row["objects"]) == single
    rows = questions[:5]
    batched = pipe(*_columns(rows)[:2], boxes=_columns(rows)[2], objects=_columns(rows)[3],
                   max_new_tokens=2)  # fmt: skip
    singles = [pipe(r["image"], r["question"], boxes=r["boxes"], objects=r["objects"],
                    max_new_tokens=2) for r in rows]  # fmt: skip
    assert batched == singles
    beams = pipe(row["image"], row["question"], boxes=row["boxes"], objects=row["objects"],
                 num_beams=3)  # fmt: skip
    assert isinstance(beams, str)


def test_explain_returns_the_answer_and_its_region_attention_picture(tiny_exports, questions):
    pipe = mmf_imgtune.pipeline(tiny_exports["cross_attention", False])
    row = questions[0]
    result = pipe(row["image"], row["question"], boxes=row["boxes"], objects=row["objects"],
                  explain=True)  # fmt: skip
    assert result["answer"] == pipe(row["image"], row["question"], boxes=row["boxes"],
                                    objects=row["objects"])  # fmt: skip
    assert len(result["weights"]) == len(row["boxes"]) and abs(sum(result["weights"]) - 1) < 1e-4
    assert result["picture"].size[0] > 0


def test_bad_inputs_name_the_field(tiny_exports, questions):
    pipe = mmf_imgtune.pipeline(tiny_exports["prefix", False])
    row = questions[0]
    with pytest.raises(InputError, match="^image: not an image"):
        pipe(b"not an image", row["question"], boxes=row["boxes"])
    with pytest.raises(InputError, match="^boxes: .*pooled over given boxes"):
        pipe(row["image"], row["question"])  # the store had given boxes only: say so
    with pytest.raises(InputError, match="^messages: the prompt has"):
        pipe(row["image"], "what colour " * 30, boxes=row["boxes"])
    with pytest.raises(InputError, match="^max_new_tokens: .*context"):
        pipe(row["image"], row["question"], boxes=row["boxes"], max_new_tokens=60)


@pytest.fixture(scope="module")
def classifier(tiny_runs, tmp_path_factory):
    """A tiny vqa_classification run, mmf_predict'ed, and its export."""
    from export_helpers import TINY_CONFIG, train_and_predict

    from mmf_imgtune.inference.export import export_run

    root = tmp_path_factory.mktemp("classifier")
    config = root / "vqa.yaml"
    text = TINY_CONFIG.format(fusion="prefix").replace(
        "task: generation",
        "task: vqa_classification\n    num_answers: ${dataset_config.shapes.num_answers}",
    )
    config.write_text(text.replace("[generation_vqa_accuracy]", "[vqa_accuracy]"))
    run = train_and_predict(root, str(config), "vqa", data=tiny_runs["prefix"]["data"].parent)
    return run, export_run(run["save"], root / "export")


def test_classifier_export_answers_labels_and_scores(classifier, questions):
    run, folder = classifier
    pipe = mmf_imgtune.pipeline(folder)
    images, prompts, boxes, objects = _columns(questions)
    results = pipe(images, prompts, boxes=boxes, objects=objects)
    expected = {row["question_id"]: row["answer"] for row in run["predictions"]}
    assert [r["label"] for r in results] == [expected[row["id"]] for row in questions]
    first = results[0]
    assert first["scores"][first["label"]] == first["score"] and len(first["scores"]) == 5
    assert "red" in pipe.labels and "yes" in pipe.labels


def test_export_pipeline_loads_without_the_runtime(tiny_exports):
    import subprocess

    code = (
        "import sys, mmf_imgtune\n"
        f"pipe = mmf_imgtune.pipeline({str(tiny_exports['prefix', True])!r})\n"
        "assert not [n for n in sys.modules if n.split('.')[0] == 'lightning'\n"
        "            or n.startswith('mmf_imgtune.trainer')]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
