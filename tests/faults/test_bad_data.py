"""Bad data in every builder: each problem ends in a ``DataError`` naming the file and the
line or record, or in a counted skip where the user asked for skipping. Never a silent
wrong sample."""

import json

import numpy as np
import pytest
from mmf_layouts import (
    load_split,
    write_coco_karpathy,
    write_hateful_memes,
    write_jsonl,
    write_vqa2,
)

from mmf_imgtune.data.tokenizers import build_tokenizer
from mmf_imgtune.errors import DataError
from mmf_imgtune.io.annotations import AnnotationError

HM = ["dataset_config.hateful_memes.max_features=6"]
VQA = ["dataset_config.vqa2.num_answers=6", "dataset_config.vqa2.max_features=4"]
COCO = ["dataset_config.coco.max_features=5"] + [
    f"dataset_config.coco.features.{s}=[coco/defaults/features/trainval2014]"
    for s in ("train", "val", "test")
]
JSONL = ["dataset_config.image_text_jsonl.use_features=false"]
VQA_TRAIN_QUESTIONS = "annotations/v2_OpenEnded_mscoco_train2014_questions.json"


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"  # MMF_DATA_DIR (root conftest)


def _jsonl_folder(data_dir, records):
    root = data_dir / "datasets" / "image_text_jsonl"
    for split in ("train", "val"):
        write_jsonl(root / f"{split}.jsonl", records)
    return root


def _line_records():
    return [{"image": f"{i}.png", "text": "a cat", "label": i % 2} for i in range(4)]


# (dataset, how to write its data, the annotation file to break, overrides)
SOURCES = {
    "hateful_memes": (
        lambda d: write_hateful_memes(d), "annotations/train.jsonl", HM),
    "vqa2_questions": (lambda d: write_vqa2(d), VQA_TRAIN_QUESTIONS, VQA),
    "vqa2_annotations": (
        lambda d: write_vqa2(d), "annotations/v2_mscoco_train2014_annotations.json", VQA),
    "coco": (lambda d: write_coco_karpathy(d), "annotations/dataset_coco.json", COCO),
    "image_text_jsonl": (lambda d: _jsonl_folder(d, _line_records()), "train.jsonl", JSONL),
}  # fmt: skip


def _load(source, data_dir):
    write, relative, overrides = SOURCES[source]
    root = write(data_dir)
    dataset = source.split("_questions")[0].split("_annotations")[0]
    return root / relative, lambda: load_split(dataset, "train", *overrides)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_empty_annotation_file_names_the_file(source, data_dir):
    path, load = _load(source, data_dir)
    path.write_bytes(b"")
    with pytest.raises(AnnotationError, match=rf"{path.name}.*(empty|no annotations)"):
        load()


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_non_utf8_text_names_the_file_and_line(source, data_dir):
    path, load = _load(source, data_dir)
    text = path.read_text()
    if path.suffix == ".json":  # one line: re-indent so that the bad byte sits on line > 1
        text = json.dumps(json.loads(text), indent=1)
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if i > 0 and '"' in line)
    lines[target] = lines[target].replace('"', '"\xe9', 1)  # é in Latin-1: byte 0xe9
    path.write_bytes("\n".join(lines).encode("latin-1"))
    with pytest.raises(AnnotationError, match=rf"{path.name}:{target + 1}: not UTF-8"):
        load()


def test_utf8_with_a_byte_order_mark_is_read(data_dir):
    path, load = _load("hateful_memes", data_dir)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load()) == 8


@pytest.mark.parametrize(
    ("source", "change", "message"),
    [
        ("hateful_memes", {"label": "maybe"}, r"record 1: 'label' must be an integer class"),
        ("hateful_memes", {"text": None}, r"record 1: 'text' must be a string"),
        ("hateful_memes", {"label": 2}, r"record 1: 'label' must be an integer class in 0..1"),
        ("image_text_jsonl", {"label": 7}, r"train\.jsonl:1: 'label' must be an integer class"),
        ("image_text_jsonl", {"text": ["a", "list"]}, r"train\.jsonl:1: 'text' must be a str"),
        ("image_text_jsonl", {"label": None, "answers": []}, "'answers' must be a string or"),
    ],
)
def test_wrong_field_type_names_file_and_record(source, change, message, data_dir):
    path, load = _load(source, data_dir)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0].update(change)
    if records[0].get("label", 0) is None:
        records = [{k: v for k, v in r.items() if k != "label"} for r in records]
        records = [{**r, "answers": r.get("answers", ["cat"])} for r in records]
    write_jsonl(path, records)
    with pytest.raises(AnnotationError, match=message):
        load()


def test_vqa_and_coco_fields_of_the_wrong_type(data_dir):
    questions, load = _load("vqa2_questions", data_dir)
    content = json.loads(questions.read_text())
    content["questions"][2]["question"] = 42
    questions.write_text(json.dumps(content))
    with pytest.raises(AnnotationError, match=r"questions\.json: questions\[2\]: 'question'"):
        load()
    karpathy, load = _load("coco", data_dir)
    content = json.loads(karpathy.read_text())
    content["images"][2]["sentences"][0]["raw"] = None
    karpathy.write_text(json.dumps(content))
    with pytest.raises(AnnotationError, match=r"dataset_coco\.json: images\[2\]\.sentences"):
        load()


@pytest.mark.parametrize("what", ["answers", "words"])
def test_vocabulary_files_empty_or_not_utf8(what, data_dir):
    path = data_dir / f"{what}.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n \n")
    if what == "answers":
        write_vqa2(data_dir)

    def load():
        if what == "answers":
            return load_split(
                "vqa2", "train", *VQA, f"dataset_config.vqa2.answer_vocab_file={path}"
            )
        return build_tokenizer({"word_level": {"vocab_file": str(path)}})

    with pytest.raises(AnnotationError, match=rf"{what}\.txt: no {what} \(the file is empty\)"):
        load()
    path.write_bytes(b"yes\nno\ncaf\xe9\n")
    with pytest.raises(AnnotationError, match=rf"{what}\.txt:3: not UTF-8"):
        load()


def test_answers_outside_the_vocabulary_are_counted_or_skipped(data_dir, capsys):
    root = write_vqa2(data_dir)
    vocab = root / "extras" / "vocabs" / "answers_vqa.txt"
    vocab.parent.mkdir(parents=True)
    vocab.write_text("red\nyes\n")  # questions 2 and 6 ("how many": 2 or a) have neither
    train = load_split("vqa2", "train", *VQA)
    assert len(train) == 6
    out = capsys.readouterr().out
    assert "vqa2/train: 2 of 6 questions have no answer in the 2-answer vocabulary" in out
    assert train[1].targets.sum() == 0  # kept, as MMF does: it can only score 0
    skip = "dataset_config.vqa2.skip_out_of_vocab_answers=true"
    train = load_split("vqa2", "train", *VQA, skip)
    assert len(train) == 4 and all(train[i].targets.sum() > 0 for i in range(4))
    assert "vqa2/train: skipped 2 of 6 questions" in capsys.readouterr().out
    val = load_split("vqa2", "val", *VQA, skip)  # evaluation keeps every question
    assert len(val) == 3


def test_corrupt_or_truncated_image_names_the_file(data_dir):
    root = write_hateful_memes(data_dir, features="none")
    train = load_split("hateful_memes", "train")
    image = root / "images" / "img" / "01002.png"
    image.write_bytes(image.read_bytes()[:40])  # truncated: the header survives, pixels don't
    with pytest.raises(DataError, match=r"01002\.png: cannot read this image of hateful_memes"):
        train[1]
    image.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"01002\.png: cannot read this image"):
        train[1]
    assert train[0].image.shape[0] == 3  # the other images still load


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".txt"])
def test_extractor_image_lists_empty_or_not_utf8(suffix, tmp_path):
    from mmf_imgtune.regions.images import list_images

    path = tmp_path / f"images{suffix}"
    path.write_bytes(b"")
    with pytest.raises(AnnotationError, match=rf"images\{suffix}: .*empty"):
        list_images(str(path))
    latin1 = {
        ".json": b'{"images": [{"id": 1, "file_name": "a.png"},\n{"id": 2, "file_name": "\xe9.png"}]}',
        ".jsonl": b'{"image": "a.png"}\n{"image": "\xe9.png"}\n',
        ".txt": b"a.png\n\xe9.png\n",
    }[suffix]  # the second line holds a Latin-1 byte
    path.write_bytes(latin1)
    with pytest.raises(AnnotationError, match=rf"images\{suffix}:2: not UTF-8"):
        list_images(str(path))


def test_feature_store_mixing_two_widths_names_the_odd_key(tmp_path):
    from mmf_imgtune.io.features import FeatureFileError, FeatureReader, FeatureWriter

    info = {"bbox": np.zeros((2, 4), np.float32), "image_width": 8, "image_height": 8}
    with FeatureWriter(str(tmp_path / "feats")) as writer:
        writer.write("a", np.ones((2, 2048), np.float32), info)
        writer.write("b", np.ones((2, 1024), np.float32), info)
    reader = FeatureReader(str(tmp_path / "feats"), max_features=4)
    assert reader.read("a")[0].shape == (4, 2048)
    with pytest.raises(FeatureFileError, match=r"feats:b: 1024-d features, but .* 2048-d"):
        reader.read("b")
