"""Caption metrics never lie: on a real (tiny) run of each caption data set (image_text_jsonl,
coco, shapes) BLEU-4 and CIDEr equal pycocoevalcap's on the written predictions file; and
``mmf_imgtune_generate`` on a training image gives the caption evaluation wrote for it."""

import json
import re
import shutil
from pathlib import Path

import pytest
from mmf_layouts import TOKENIZER, write_coco_karpathy, write_jsonl

from mmf_imgtune.cli import generate
from mmf_imgtune.cli.run import run
from mmf_imgtune.modules.text_metrics import PTB_TOKENIZER, REGEX_TOKENIZER

pytestmark = pytest.mark.slow
NAME = "image_text_jsonl"
# Captions in the word-level tokenizer's vocabulary (mmf_layouts.WORDS), one per colour.
CAPTIONS = {(200, 30, 30): "a red dog", (30, 30, 200): "a cat on a man",
            (30, 180, 30): "two dog", (220, 220, 220): "a picture of a cat"}  # fmt: skip
SHORT = ["training.batch_size=4", "training.evaluation_interval=1000",
         "training.checkpoint_interval=1000", "training.log_interval=10",
         "training.progress_bar=false", "evaluation.predict=true",
         "run_type=train_val_test"]  # fmt: skip


def tokenized(captions: dict[int, list[str]]) -> dict[int, list[str]]:
    """pycocoevalcap's PTBTokenizer (needs Java); without Java, its effect on these plain
    captions: lower case, punctuation dropped."""
    if shutil.which("java"):
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        return PTBTokenizer().tokenize(
            {k: [{"caption": c} for c in v] for k, v in captions.items()}
        )
    return {
        k: [" ".join(re.findall(r"[a-z0-9]+", c.lower())) for c in v] for k, v in captions.items()
    }


def reference_scores(rows: list[dict], id_key: str, references: dict) -> dict[str, float]:
    """BLEU-4 and CIDEr by pycocoevalcap on the predictions file's rows."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    assert sorted(int(r[id_key]) for r in rows) == sorted(references)  # every sample written
    res = tokenized({int(r[id_key]): [r["caption"]] for r in rows})
    gts = tokenized({i: references[i] for i in res})
    bleu = Bleu(4).compute_score(gts, res, verbose=0)[0][3]
    return {"bleu4": bleu, "cider": Cider().compute_score(gts, res)[0]}


def assert_metrics_match(result: dict, dataset: str, id_key: str, references: dict) -> None:
    rows = json.loads(Path(result["predictions"][0]).read_text())
    expected = reference_scores(rows, id_key, references)
    for name, value in expected.items():
        assert result["metrics"][f"test/{dataset}/{name}"] == pytest.approx(value, abs=1e-9), name
    assert f"val/{dataset}/cider" in result["metrics"]  # val is scored too, not skipped
    # How varied the captions are, from the same predictions; and the tokenizer named.
    captions = [row["caption"] for row in rows]
    summary = result["generated_text"][f"test/{dataset}"]
    top = max(captions.count(c) for c in captions)  # ties: any of them is the most frequent
    assert summary["generated"] == len(captions) and summary["distinct"] == len(set(captions))
    assert summary["most_frequent_count"] == captions.count(summary["most_frequent"]) == top
    assert summary["most_frequent_share"] == top / len(captions)
    tokenizer = PTB_TOKENIZER if shutil.which("java") else REGEX_TOKENIZER
    assert result["metric_notes"][f"test/{dataset}/cider"] == f"tokenizer: {tokenizer}"


@pytest.fixture(scope="module")
def jsonl_run(tmp_path_factory):
    """Tiny ImgTune captioning image_text_jsonl (grid features, the default), 40 updates."""
    root = tmp_path_factory.mktemp("jsonl")
    folder = root / "data" / "datasets" / NAME
    records = []
    from PIL import Image

    for index, (colour, caption) in enumerate(CAPTIONS.items()):
        (folder / "images").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 32), colour).save(folder / "images" / f"{index}.png")
        records.append({"id": index, "image": f"{index}.png", "text": "a picture of",
                        "caption": caption})  # fmt: skip
    for split in ("train", "val", "test"):
        write_jsonl(folder / f"{split}.jsonl", records)
    params = f"dataset_config.{NAME}.processors.text_processor"
    extract = f"dataset_config.{NAME}.extract"
    result = run([f"env.data_dir={root / 'data'}", f"env.save_dir={root / 'save'}",
                  "model=imgtune", f"dataset={NAME}", "evaluation.metrics=[bleu4,cider]",
                  f"model_config.imgtune.tokenizer={TOKENIZER}",
                  "model_config.imgtune.region_encoder.feature_dim=128",
                  "model_config.imgtune.generation.max_new_tokens=6",
                  f"{params}.type=llm_prompt", f"{params}.params.tokenizer={TOKENIZER}",
                  f"{params}.params.max_seq_length=12", f"{extract}.min_size=64",
                  f"{extract}.max_size=64", f"{extract}.progress=false",
                  f"dataset_config.{NAME}.max_features=17", "training.max_updates=40",
                  "optimizer.params.lr=3e-3", *SHORT])  # fmt: skip
    return root, records, result


def test_jsonl_caption_metrics_are_pycocoevalcap_on_the_predictions(jsonl_run):
    _, records, result = jsonl_run
    references = {r["id"]: [r["caption"]] for r in records}
    assert_metrics_match(result, NAME, "id", references)
    # val holds the same records and is scored with the same (final) weights.
    for metric in ("bleu4", "cider"):
        val, test = (
            result["metrics"][f"val/{NAME}/{metric}"],
            result["metrics"][f"test/{NAME}/{metric}"],
        )
        assert val == pytest.approx(test), metric
    # The model learned something: a metric of nothing scored would read 0 (or fail).
    assert result["metrics"][f"test/{NAME}/cider"] > 0.5


def test_generate_on_a_training_image_gives_the_evaluated_caption(jsonl_run, capsys):
    root, records, result = jsonl_run
    rows = {r["id"]: r["caption"] for r in json.loads(Path(result["predictions"][0]).read_text())}
    folder = root / "data" / "datasets" / NAME / "images"
    for record in records:
        code = generate.main(["--checkpoint", str(root / "save" / "current.ckpt"),
                              "--image", str(folder / record["image"]),
                              "--prompt", record["text"]])  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0, err
        assert out.strip() == rows[record["id"]], (record, err)
        assert "regions: whole image + 4x4 grid" in err and "layer 'mid' (128-d)" in err
    stores = json.loads((root / "save" / "feature_stores.json").read_text())
    assert stores[NAME]["train"][0]["record"]["box_sources"]["grid"]["grid"] == 4
    # A store written before records (and a run without the copy): the config's extract
    # options, with a note; the boxes must then be named.
    (root / "data" / "datasets" / NAME / "features" / "extraction.json").unlink()
    (root / "save" / "feature_stores.json").unlink()
    first = records[0]
    args = ["--checkpoint", str(root / "save" / "current.ckpt"), "--prompt", first["text"],
            "--image", str(folder / first["image"])]  # fmt: skip
    assert generate.main(args) == 2
    assert "pooled over unrecorded boxes" in capsys.readouterr().err
    assert generate.main([*args, "--grid", "4"]) == 0
    out, err = capsys.readouterr()
    assert "has no extraction record" in err and f"dataset_config.{NAME}.extract" in err
    assert out.strip() == rows[first["id"]]


def test_coco_caption_metrics_are_pycocoevalcap_on_the_predictions(tmp_path):
    from test_real_data_runs import imgtune_run

    write_coco_karpathy(tmp_path / "data", features="lmdb")
    result = imgtune_run("coco", "run_type=train_val_test", "evaluation.predict=true",
                         "model_config.imgtune.generation.max_new_tokens=4",
                         "model_config.imgtune.generation.num_beams=1")  # fmt: skip
    karpathy = json.loads(
        (tmp_path / "data/datasets/coco/defaults/annotations/dataset_coco.json").read_text()
    )["images"]
    references = {
        image["cocoid"]: [s["raw"] for s in image["sentences"]]
        for image in karpathy
        if image["split"] == "test"
    }
    assert_metrics_match(result, "coco", "id", references)


def test_shapes_caption_metrics_are_pycocoevalcap_on_the_predictions(tmp_path):
    from mmf_imgtune.data.shapes.generate import load_split

    data = tmp_path / "data"
    result = run(["config=projects/imgtune/configs/shapes/caption.yaml", "model=imgtune",
                  "dataset=shapes", f"env.data_dir={data}",
                  "dataset_config.shapes.sizes={train: 8, val: 4, test: 4}",
                  "dataset_config.shapes.image_size=64",
                  "dataset_config.shapes.extract.min_size=64",
                  "dataset_config.shapes.extract.max_size=64",
                  "model_config.imgtune.generation.max_new_tokens=8",
                  "training.max_updates=4", *SHORT])  # fmt: skip
    references = {r["id"]: r["captions"] for r in load_split(str(data / "shapes"), "test")}
    assert_metrics_match(result, "shapes", "id", references)
