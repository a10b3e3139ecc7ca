"""The Hateful Memes zip converter: the download's layout -> MMF's, then the builder reads it."""

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from mmf_layouts import load_split, write_image, write_jsonl

from mmf_imgtune.cli.convert_hateful_memes import main
from mmf_imgtune.data.converters.hateful_memes import convert


def make_download(folder):
    """The challenge's phase-1 zip content: data/{img/, train, dev, test .jsonl, LICENSE}."""
    data = folder / "data"
    records = [{"id": 1000 + i, "img": f"img/{1000 + i:05d}.png", "text": "love this cat",
                "label": i % 2} for i in range(6)]  # fmt: skip
    for index, record in enumerate(records):
        write_image(data / record["img"], index)
    write_jsonl(data / "train.jsonl", records[:4])
    write_jsonl(data / "dev.jsonl", records[4:])
    write_jsonl(data / "test.jsonl", [{k: v for k, v in r.items() if k != "label"}
                                      for r in records[4:]])  # fmt: skip
    (data / "LICENSE.txt").write_text("licence")
    return data


def test_plain_zip_converts_and_loads(tmp_path):
    data = make_download(tmp_path / "download")
    archive = tmp_path / "hateful_memes.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in data.rglob("*"):
            handle.write(path, path.relative_to(data.parent))
    root = convert([str(archive)], str(tmp_path / "data"))
    names = sorted(p.name for p in (Path(root) / "annotations").iterdir())
    assert names == ["dev.jsonl", "dev_seen.jsonl", "test.jsonl", "test_seen.jsonl", "train.jsonl"]
    train = load_split(
        "hateful_memes",
        "train",
        "dataset_config.hateful_memes.processors.image_processor.params.transforms="
        "[ToTensor, GrayScaleTo3Channels, {type: Resize, params: {size: [8, 8]}}]",
    )
    assert len(train) == 4 and train[2].image.shape == (3, 8, 8)


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip tool to encrypt a zip")
def test_encrypted_zip_needs_the_password_and_never_stores_it(tmp_path, capsys):
    data = make_download(tmp_path / "download")
    archive = tmp_path / "hm.zip"
    subprocess.run(["zip", "-q", "-r", "-P", "s3cret", str(archive), "data"],
                   cwd=data.parent, check=True)  # fmt: skip
    out = tmp_path / "data"
    with pytest.raises(SystemExit):
        main(["--zip_files", str(archive), "--data_dir", str(out)])
    assert "--password_file" in capsys.readouterr().err
    secret = tmp_path / "password.txt"
    secret.write_text("s3cret\n")
    main(["--zip_files", str(archive), "--data_dir", str(out), "--password_file", str(secret)])
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) == 6 + 5  # images + annotation files
    assert not any(b"s3cret" in p.read_bytes() for p in written)


def test_missing_zip_and_missing_images_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="hatefulmemeschallenge.com"):
        convert([str(tmp_path / "nope.zip")], str(tmp_path / "data"))
    data = make_download(tmp_path / "download")
    archive = tmp_path / "no_images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in data.glob("*.jsonl"):
            handle.write(path, path.relative_to(data.parent))
    with pytest.raises(FileNotFoundError, match="6 of 6 annotated images are not in the zip"):
        convert([str(archive)], str(tmp_path / "data"))
