"""Writes the ``shapes`` data set in MMF's layout under ``dataset_config.shapes.data_dir``.

Layout (paths relative to ``data_dir``)::

    images/<split>/<split>_000123.png        one scene per image
    annotations/<split>.jsonl                one image per line (see ``make_record``)
    annotations/<split>.meta.json            generator settings; written last = split complete
    answers.txt  vocab.txt  classes.txt      answer vocabulary, tokenizer words, class names
    features/<variant>/<split>_000123.npy    region features (``shapes.features``)

Generation is deterministic: image ``i`` of split ``s`` draws from its own generator seeded by
``(seed, crc32(s), i)``, so the same settings give byte-identical files on every machine, and a
split is regenerated only when its settings change.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmf_imgtune.data.shapes.captions import make_captions
from mmf_imgtune.data.shapes.questions import make_questions
from mmf_imgtune.data.shapes.render import render_scene
from mmf_imgtune.data.shapes.scene import sample_scene
from mmf_imgtune.data.shapes.statements import make_statements
from mmf_imgtune.data.shapes.vocab import ANSWERS, CLASS_NAMES, all_words
from mmf_imgtune.io.atomic import atomic_write

# Bump when the generator's output changes for the same settings: old splits regenerate.
GENERATOR_VERSION = 1
# Ids of a split's questions/statements: image index * ID_STRIDE + position in the image.
ID_STRIDE = 10


@dataclass(frozen=True)
class SplitSettings:
    """What determines a split's content (stored in ``<split>.meta.json``)."""

    split: str  # split name, e.g. "train"
    size: int  # number of images
    seed: int  # generator seed shared by all splits
    image_size: int  # image side in pixels
    min_objects: int  # fewest objects per image (>= 1)
    max_objects: int  # most objects per image (<= 6)
    version: int = GENERATOR_VERSION  # generator version that wrote the split


def image_key(split: str, index: int) -> str:
    """File stem and feature key of an image, e.g. ``train_000123``."""
    return f"{split}_{index:06d}"


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    # crc32, not hash(): Python salts str hashes per process.
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


def make_record(settings: SplitSettings, index: int):
    """One scene: its image and its annotation line.

    Returns:
        (PIL image, record) with record ``{id, image, feature_key, width, height, objects:
        [{shape, colour, size, label, bbox}], captions: [str], questions: [{question_id,
        question, answer, answers, family}], statements: [{statement_id, statement, label,
        template}]}``.
    """
    rng = image_rng(settings.seed, settings.split, index)
    scene = sample_scene(rng, settings.image_size, settings.min_objects, settings.max_objects)
    key = image_key(settings.split, index)
    questions = make_questions(scene, rng)
    statements = make_statements(scene, rng)
    for position, item in enumerate(questions):
        item["question_id"] = index * ID_STRIDE + position
    for position, item in enumerate(statements):
        item["statement_id"] = index * ID_STRIDE + position
    record = {
        "id": index,
        "image": f"images/{settings.split}/{key}.png",
        "feature_key": key,
        "width": settings.image_size,
        "height": settings.image_size,
        "objects": [obj.to_json() for obj in scene],
        "captions": make_captions(scene, rng),
        "questions": questions,
        "statements": statements,
    }
    return render_scene(scene, settings.image_size), record


def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, text)  # readers never see half a file


def meta_path(data_dir: str, split: str) -> Path:
    return Path(data_dir) / "annotations" / f"{split}.meta.json"


def is_current(data_dir: str, settings: SplitSettings) -> bool:
    """Whether ``data_dir`` already holds this split, generated with these settings."""
    path = meta_path(data_dir, settings.split)
    if not path.is_file():
        return False
    stored = json.loads(path.read_text(encoding="utf-8"))
    return stored.get("settings") == asdict(settings)


def write_vocab_files(data_dir: str) -> None:
    """``answers.txt`` (VQA classes), ``vocab.txt`` (tokenizer words), ``classes.txt``."""
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    for name, lines in (("answers.txt", ANSWERS), ("vocab.txt", all_words()),
                        ("classes.txt", CLASS_NAMES)):  # fmt: skip
        _atomic_write(root / name, "".join(f"{line}\n" for line in lines))


def generate_split(data_dir: str, settings: SplitSettings, progress: bool = True) -> bool:
    """Write one split unless it is already there with the same settings.

    Args:
        data_dir: the data set's root (``dataset_config.shapes.data_dir``).
        settings: the split's generator settings.
        progress: show a tqdm bar.
    Returns:
        True when the split was (re)generated, False when it was up to date.
    """
    if is_current(data_dir, settings):
        return False
    root = Path(data_dir)
    meta = meta_path(data_dir, settings.split)
    meta.unlink(missing_ok=True)  # the split is incomplete from here until the meta is back
    image_dir = root / "images" / settings.split
    image_dir.mkdir(parents=True, exist_ok=True)
    for stale in image_dir.glob(f"{settings.split}_*.png"):
        stale.unlink()  # files of an earlier, different generation (e.g. a larger size)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    write_vocab_files(data_dir)
    start = time.perf_counter()
    lines = []
    bar = tqdm(
        range(settings.size),
        desc=f"shapes {settings.split}",
        unit="img",
        disable=None if progress else True,
    )  # fmt: skip  (None: off unless a terminal)
    for index in bar:
        image, record = make_record(settings, index)
        image.save(root / record["image"], format="PNG")
        lines.append(json.dumps(record, sort_keys=True))
    _atomic_write(root / "annotations" / f"{settings.split}.jsonl", "\n".join(lines) + "\n")
    summary = {"settings": asdict(settings), "images": settings.size,
               "seconds": round(time.perf_counter() - start, 3)}  # fmt: skip
    _atomic_write(meta, json.dumps(summary, indent=1, sort_keys=True))
    return True


def load_split(data_dir: str, split: str) -> list[dict]:
    """The annotation records of a generated split (one per image)."""
    path = Path(data_dir) / "annotations" / f"{split}.jsonl"
    if not path.is_file() or not meta_path(data_dir, split).is_file():
        raise FileNotFoundError(
            f"shapes split '{split}' is not generated under {data_dir} ({path} missing or "
            "incomplete); run the builder's build(config, split) (mmf_run does) first"
        )
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
