"""Generation is deterministic, idempotent, and regenerates a split whose settings changed."""

import hashlib
from pathlib import Path

from mmf_imgtune.data.shapes import ANSWERS, SplitSettings, all_words, generate_split, load_split
from mmf_imgtune.data.shapes.generate import image_rng


def settings(**changes) -> SplitSettings:
    values = dict(split="train", size=12, seed=0, image_size=64, min_objects=1, max_objects=6)
    values.update(changes)
    return SplitSettings(**values)


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every generated file except the meta (it records the generation time)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".meta.json")
    }


def test_same_seed_gives_identical_files(tmp_path):
    assert generate_split(str(tmp_path / "a"), settings(), progress=False) is True
    assert generate_split(str(tmp_path / "b"), settings(), progress=False) is True
    first, second = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert len([name for name in first if name.endswith(".png")]) == 12
    assert first == second


def test_different_seed_gives_different_data(tmp_path):
    generate_split(str(tmp_path / "a"), settings(seed=0), progress=False)
    generate_split(str(tmp_path / "b"), settings(seed=1), progress=False)
    first, second = (
        load_split(str(tmp_path / "a"), "train"),
        load_split(str(tmp_path / "b"), "train"),
    )
    differing = sum(a["objects"] != b["objects"] for a, b in zip(first, second))
    assert differing >= 10


def test_splits_use_independent_streams():
    draws = {split: image_rng(0, split, 0).random() for split in ("train", "val", "test")}
    assert len(set(draws.values())) == 3


def test_build_is_idempotent_and_regenerates_on_change(tmp_path):
    root = str(tmp_path)
    assert generate_split(root, settings(size=8), progress=False) is True  # it did the work
    png = tmp_path / "images" / "train" / "train_000000.png"
    stamp = png.stat().st_mtime_ns
    assert not generate_split(root, settings(size=8), progress=False)  # up to date: no work
    assert png.stat().st_mtime_ns == stamp
    assert generate_split(root, settings(size=5), progress=False)  # settings changed
    assert len(load_split(root, "train")) == 5
    assert sorted(p.name for p in (tmp_path / "images" / "train").iterdir())[-1] == (
        "train_000004.png"
    )  # the images of the larger generation are gone


def test_vocabulary_files(tmp_path):
    generate_split(str(tmp_path), settings(size=2), progress=False)
    assert (tmp_path / "answers.txt").read_text().split("\n")[:-1] == list(ANSWERS)
    assert (tmp_path / "vocab.txt").read_text().split("\n")[:-1] == all_words()
    assert len((tmp_path / "classes.txt").read_text().split("\n")[:-1]) == 18


def test_load_split_names_the_missing_split(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="shapes split 'val' is not generated"):
        load_split(str(tmp_path), "val")
