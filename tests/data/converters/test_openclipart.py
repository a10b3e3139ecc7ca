"""The openclipart converter on a small fake package layout the test writes (no apt-get, no
picture of the real packages): caption and class rules, dedupe, deterministic stratified split,
RGB images on white, clear errors, and a loadable dataset."""

import json

import pytest
from PIL import Image

from mmf_imgtune.cli import openclipart as openclipart_cli
from mmf_imgtune.data.converters import openclipart

SVG = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
  <metadata>
    <rdf:RDF xmlns:cc="http://web.resource.org/cc/" xmlns:dc="http://purl.org/dc/elements/1.1/"
             xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <cc:Work rdf:about="">
        <dc:title>{title}</dc:title>
        <dc:description>{description}</dc:description>
        <dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject>
        <dc:creator><cc:Agent><dc:title>Ann Author</dc:title></cc:Agent></dc:creator>
      </cc:Work>
    </rdf:RDF>
  </metadata>
  <rect width="10" height="10"/>
</svg>
"""


def picture(png_root, svg_root, path, title, colour=(200, 30, 30), description="", mode="RGBA",
            size=(40, 20)):  # fmt: skip
    """One picture at ``path`` (no suffix): a PNG with a transparent left half, and its SVG."""
    png, svg = png_root / f"{path}.png", svg_root / f"{path}.svg"
    png.parent.mkdir(parents=True, exist_ok=True)
    svg.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGBA", size, (*colour, 255))
    image.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    image.convert(mode).save(png)
    keywords = "".join(f"<rdf:li>{k}</rdf:li>" for k in ("clip", "", "art"))
    svg.write_text(SVG.format(title=title, description=description, keywords=keywords))


def fake_packages(root):
    """``animals`` 16 pictures, ``food`` 9, ``tools`` 3 (below min_per_class), ``unsorted`` 2,
    plus titles that are no captions, a picture filed twice and one under two categories."""
    png_root, svg_root = root / "png", root / "svg"
    for number in range(16):
        picture(png_root, svg_root, f"animals/mammals/cat_{number:02d}", f"Cat_number {number}",
                colour=(number * 10, 60, 90))  # fmt: skip
    for number in range(9):
        picture(png_root, svg_root, f"food/fruit/apple_{number}", f"Apple {number}",
                colour=(90, number * 20, 40))  # fmt: skip
    for number in range(3):
        picture(png_root, svg_root, f"tools/saw_{number}", f"Clipart by Ann Author - saw {number}",
                colour=(number, 0, 0))  # fmt: skip
    for number in range(2):  # one filed under unsorted/, one at the top (no category either)
        picture(png_root, svg_root, f"{'unsorted/' * (1 - number)}blob_{number}",
                f"Blob {number}.svg", colour=(0, number + 1, 0))  # fmt: skip
    # Titles that are not captions: a collection name (two pictures), a link, digits only.
    picture(png_root, svg_root, "food/icon_a", "Lemon SVG theme", colour=(1, 2, 3))
    picture(png_root, svg_root, "food/icon_b", "Lemon SVG theme", colour=(4, 5, 6))
    picture(png_root, svg_root, "food/link", "see http://example.org", colour=(7, 8, 9))
    picture(png_root, svg_root, "food/digits", "0042", colour=(10, 11, 12))
    # A PNG over the tests' --max-pixels 1000 (40 x 20 = 800 elsewhere).
    picture(png_root, svg_root, "food/huge", "Huge melon", size=(60, 60))
    # The same picture filed twice in one category, the same PNG under another name, and one
    # picture filed under two categories.
    picture(png_root, svg_root, "food/zz_copy", "Apple copy", colour=(90, 0, 40))
    picture(png_root, svg_root, "animals/cat_00", "Cat_number 0", colour=(0, 60, 90))
    picture(png_root, svg_root, "animals/owl", "Owl at night", colour=(3, 3, 3),
            description="An owl.")  # fmt: skip
    picture(png_root, svg_root, "food/owl", "Owl at night", colour=(3, 3, 3))
    return png_root, svg_root


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("title", "caption"),
    [("Cat_number 1", "Cat number"), ("Tigre04", "Tigre"), ("paper 2", "paper"), ("MP3", "MP3"),
     ("Switch HP 2524", "Switch HP 2524"), ("2 dead frogs", "2 dead frogs"), ("Clipart by Nicu Buculei - compact disc", "compact disc"),
     ("large braces.svg", "large braces"), ("ralf@ark.in-berlin.de", None), ("0042", None),
     ("www.site.org logo", None), (" ".join(["word"] * 13), None), ("  ", None)],
)  # fmt: skip
def test_clean_title(title, caption):
    assert openclipart.clean_title(title) == caption


def test_convert_writes_caption_and_classification_folders(tmp_path):
    png_root, svg_root = fake_packages(tmp_path)
    out = tmp_path / "oc"
    counts = openclipart_cli.run(["--out", str(out), "--png", str(png_root), "--svg", str(svg_root),
                              "--min-per-class", "5", "--max-per-category", "12",
                              "--max-pixels", "1000"])  # fmt: skip
    # animals: 16 cats (cat_00 filed twice is one) + the owl, capped at 12; food: 9 apples;
    # tools 3; unsorted 2. Split per category by position: 3, 10 -> val; 6 -> test.
    assert counts["pictures"] == 12 + 9 + 3 + 2 and counts["too_large"] == 1
    # 16 cats, owl, 9 apples, 4 other food titles, huge, 3 saws, 2 blobs.
    assert counts["artworks"] == 16 + 1 + 9 + 4 + 1 + 3 + 2
    assert counts["caption"] == {"train": 9 + 7 + 3 + 2, "val": 2 + 1, "test": 1 + 1}
    # The owl (two categories, kept at position 1) has no class; tools (3) and unsorted none.
    assert counts["classes"] == {"animals": 11, "food": 9}
    assert counts["classification"] == {"train": 8 + 7, "val": 2 + 1, "test": 1 + 1}
    assert (out / "classification" / "labels.txt").read_text() == "animals\nfood\n"
    captions = {line["id"]: line for s in ("train", "val", "test")
                for line in read(out / "caption" / f"{s}.jsonl")}  # fmt: skip
    assert captions["cat_00"] == {"id": "cat_00", "image": "cat_00.png",
                                  "text": openclipart.CAPTION_PROMPT, "caption": "Cat number"}  # fmt: skip
    assert {captions[f"saw_{n}"]["caption"] for n in range(3)} == {"saw"}
    assert captions["blob_0"]["caption"] == "Blob"  # "Blob 0.svg": a series of two
    assert not {"icon_a", "icon_b", "link", "digits", "huge"} & set(captions)
    assert "zz_copy" not in captions
    # Split: within a category, in the SHA-1 order of the names, positions 3, 10 val, 6 test.
    metadata = {m["id"]: m for m in read(out / "metadata.jsonl")}
    food = sorted((n for n in metadata if n.startswith("apple")), key=openclipart._order)
    assert [metadata[n]["split"] for n in food] == ["train"] * 3 + ["val"] + ["train"] * 2 + [
        "test"] + ["train"] * 2  # fmt: skip
    assert metadata["owl"]["paths"] == ["animals/owl", "food/owl"]
    assert (
        metadata["owl"]["description"] == "An owl." and metadata["owl"]["creator"] == "Ann Author"
    )
    assert metadata["cat_00"]["paths"] == ["animals/cat_00", "animals/mammals/cat_00"]
    assert metadata["apple_0"]["paths"] == ["food/fruit/apple_0", "food/zz_copy"]
    assert metadata["cat_00"]["keywords"] == ["clip", "art"]
    labels = {line["id"]: line["label"] for s in ("train", "val", "test")
              for line in read(out / "classification" / f"{s}.jsonl")}  # fmt: skip
    assert labels["apple_0"] == 1 and "owl" not in labels and "saw_0" not in labels
    assert metadata["blob_1"]["paths"] == ["blob_1"] and "blob_1" not in labels
    # A picture keeps its split in both folders.
    for split in ("train", "val", "test"):
        ids = {line["id"] for line in read(out / "classification" / f"{split}.jsonl")}
        assert all(metadata[i]["split"] == split for i in ids)
    assert (out / "caption" / "images" / "apple_0.png").is_file()
    assert (out / "classification" / "features").resolve() == (out / "features").resolve()
    # Deterministic: a second conversion writes the same lines.
    before = (out / "caption" / "train.jsonl").read_text()
    openclipart.convert(png_root, svg_root, out, 12, 5, max_pixels=1000)
    assert (out / "caption" / "train.jsonl").read_text() == before


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_images_are_rgb_on_white_and_bounded(tmp_path, mode):
    png_root, svg_root = tmp_path / "png", tmp_path / "svg"
    picture(png_root, svg_root, "food/pear", "Pear", colour=(20, 200, 20), mode=mode)
    image = openclipart.to_rgb(png_root / "food" / "pear.png", max_side=10)
    assert image.mode == "RGB" and image.size == (10, 5)
    assert image.getpixel((1, 2)) == (255, 255, 255)  # the transparent half is white
    assert image.getpixel((8, 2)) != (255, 255, 255)


def test_broken_inputs_name_the_file(tmp_path):
    png_root, svg_root = tmp_path / "png", tmp_path / "svg"
    picture(png_root, svg_root, "food/pear", "Pear")
    broken_png = png_root / "food" / "pear.png"
    broken_png.write_bytes(broken_png.read_bytes()[:40])
    with pytest.raises(ValueError, match=f"{broken_png}: not a readable PNG"):
        openclipart.convert(png_root, svg_root, tmp_path / "out", min_per_class=1)
    with pytest.raises(ValueError, match=r"no picture .* \(--max-pixels\)"):
        openclipart.convert(png_root, svg_root, tmp_path / "out", max_pixels=10)
    broken_png.write_bytes(b"GIF89a" + bytes(30))
    with pytest.raises(ValueError, match=f"{broken_png}: not a PNG"):
        openclipart.find_artworks(png_root, svg_root)
    broken_svg = svg_root / "food" / "pear.svg"
    broken_svg.write_text("<svg><metadata><rdf:RDF>")
    with pytest.raises(ValueError, match=f"{broken_svg}: not a readable SVG"):
        openclipart.read_metadata(broken_svg)
    with pytest.raises(FileNotFoundError, match="no .svg files"):
        openclipart.find_artworks(png_root, tmp_path / "empty")


def test_converted_folder_loads_as_image_text_jsonl(tmp_path):
    from mmf_imgtune.config import build_config
    from mmf_imgtune.data.builders.image_text_jsonl import ImageTextJsonlDataset

    png_root, svg_root = fake_packages(tmp_path)
    openclipart.convert(png_root, svg_root, tmp_path / "oc", min_per_class=5)
    folder = tmp_path / "oc" / "caption"
    config = build_config(["config=projects/imgtune/configs/image_text_jsonl/caption.yaml",
                           f"dataset_config.image_text_jsonl.data_dir={folder}",
                           "dataset_config.image_text_jsonl.use_features=false",
                           "dataset_config.image_text_jsonl.use_images=true"])  # fmt: skip
    dataset = ImageTextJsonlDataset(config.dataset_config.image_text_jsonl, "val")
    assert len(dataset) == 3
    assert all(isinstance(r["caption"], list) and r["caption"] for r in dataset.records)


def test_download_reuses_unpacked_folders_and_names_what_is_missing(tmp_path, monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"unexpected subprocess {args}")

    monkeypatch.setattr(openclipart.subprocess, "run", no_subprocess)
    unpacked = tmp_path / "cache" / "openclipart" / "usr" / "share" / "openclipart"
    (unpacked / "png").mkdir(parents=True)
    (unpacked / "svg").mkdir()
    assert openclipart.download(tmp_path / "cache") == (unpacked / "png", unpacked / "svg")
    monkeypatch.setattr(openclipart.shutil, "which", lambda tool: None)
    with pytest.raises(FileNotFoundError, match="apt-get is needed to download openclipart-png"):
        openclipart.download(tmp_path / "empty")
