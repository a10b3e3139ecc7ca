"""Writers of tiny data sets in the real on-disk layouts (MMF's, VQA's, Karpathy's).

Each writer creates a handful of samples with the real file names, field names and nesting,
so the builders are tested against the formats users already have. Region features are written
with plain numpy / lmdb calls in MMF's format (not with our FeatureWriter), so a reader that
drifted from MMF's format would fail here.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

# Vocabulary of the word-level tokenizer used by the tests (fits toy_classifier's 32 rows).
WORDS = ["a", "cat", "dog", "love", "hate", "this", "is", "what", "color", "the", "red", "two",
         "how", "many", "picture", "of", "man", "on", "yes", "no"]  # fmt: skip
FEATURE_DIM = 16
# Quoted: yaml would read yes/no as booleans.
TOKENIZER = "{word_level: {words: [" + ", ".join(f"'{w}'" for w in WORDS) + "]}}"


def tokenizer_overrides(dataset: str, max_seq_length: int = 8) -> list[str]:
    """Command-line overrides giving ``dataset`` the offline word-level tokenizer."""
    prefix = f"dataset_config.{dataset}.processors.text_processor.params"
    return [f"{prefix}.tokenizer={TOKENIZER}", f"{prefix}.max_seq_length={max_seq_length}"]


def _region(rng: np.random.Generator, boxes: int) -> tuple[np.ndarray, dict]:
    width, height = 40, 30
    x1 = rng.uniform(0, 20, boxes)
    y1 = rng.uniform(0, 15, boxes)
    bbox = np.stack([x1, y1, x1 + 10, y1 + 10], axis=1).astype(np.float32)
    info = {
        "bbox": bbox,
        "num_boxes": boxes,
        "objects": rng.integers(0, 1600, boxes),
        "cls_prob": rng.uniform(0, 1, boxes).astype(np.float32),
        "image_width": width,
        "image_height": height,
    }
    return rng.normal(0, 1, (boxes, FEATURE_DIM)).astype(np.float32), info


def write_features(path: Path, keys: list[str], fmt: str, seed: int = 0) -> Path:
    """MMF region features for ``keys``: an npy folder or an LMDB (``keys`` entry included)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "npy":
        path.mkdir(parents=True, exist_ok=True)
        for index, key in enumerate(keys):
            features, info = _region(rng, 3 + index % 4)
            np.save(path / f"{key}.npy", features)
            np.save(path / f"{key}_info.npy", np.array(info, dtype=object), allow_pickle=True)
        return path
    import lmdb

    env = lmdb.open(str(path), map_size=1 << 24, subdir=True)
    with env.begin(write=True) as txn:
        for index, key in enumerate(keys):
            features, info = _region(rng, 3 + index % 4)
            txn.put(key.encode(), pickle.dumps({"image_id": key, "features": features, **info}))
        # MMF's extraction script stores the key list as bytes under b"keys".
        txn.put(b"keys", pickle.dumps([k.encode() for k in keys]))
    env.close()
    return path


def write_image(path: Path, index: int) -> None:
    """A small image; every third is grey and every fifth RGBA, as in real meme folders."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "L" if index % 3 == 2 else "RGBA" if index % 5 == 4 else "RGB"
    if path.suffix == ".jpg" and mode == "RGBA":
        mode = "RGB"  # JPEG has no alpha
    size = (20 + index, 16 + 2 * index)
    Image.new(mode, size, color=(index * 30) % 255 if mode == "L" else None).save(path)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


MEME_TEXTS = ["love this cat", "hate this dog", "a man on a dog", "what is this", "two cat"]


def write_hateful_memes(data_dir: Path, features: str = "lmdb", images: bool = True) -> Path:
    """MMF's ``datasets/hateful_memes/defaults`` with 8 train, 4 per dev/test file."""
    root = data_dir / "datasets" / "hateful_memes" / "defaults"
    sizes = {"train": 8, "dev_seen": 4, "dev_unseen": 4, "test_seen": 4, "test_unseen": 4}
    ident, all_stems = 1000, []
    for name, size in sizes.items():
        records = []
        for _ in range(size):
            ident += 1
            stem = f"{ident:05d}"  # MMF: img/01235.png, id 1235
            record = {"id": ident, "img": f"img/{stem}.png",
                      "text": MEME_TEXTS[ident % len(MEME_TEXTS)], "label": ident % 2}  # fmt: skip
            if name == "test_unseen":
                record.pop("label")  # the unseen test set was released without labels
            records.append(record)
            all_stems.append(stem)
        write_jsonl(root / "annotations" / f"{name}.jsonl", records)
    if images:
        for index, stem in enumerate(all_stems):
            write_image(root / "images" / "img" / f"{stem}.png", index)
    if features == "lmdb":
        write_features(root / "features" / "detectron.lmdb", all_stems, "lmdb")
    elif features == "npy":
        write_features(root / "features" / "detectron", all_stems, "npy")
    return root


QUESTIONS = [("what color is the cat", ["red"] * 7 + ["two"] * 3),
             ("how many dog", ["two"] * 4 + ["2"] * 4 + ["a"] * 2),
             ("is this a cat", ["yes"] * 9 + ["no"]),
             ("is this a man", ["no"] * 2 + ["yes"] * 8)]  # fmt: skip


def _vqa_split(split: str, image_ids: list[int]) -> tuple[dict, dict]:
    subtype = {"train": "train2014", "val": "val2014", "test": "test2015"}[split]
    questions, annotations = [], []
    for n, image_id in enumerate(image_ids):
        text, answers = QUESTIONS[n % len(QUESTIONS)]
        qid = image_id * 1000 + n
        questions.append({"image_id": image_id, "question": text + "?", "question_id": qid})
        annotations.append({
            "question_id": qid, "image_id": image_id, "question_type": "what",
            "answer_type": "other", "multiple_choice_answer": answers[0],
            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                        for i, a in enumerate(answers)],
        })  # fmt: skip
    head = {"info": {}, "license": {}, "data_subtype": subtype, "task_type": "Open-Ended",
            "data_type": "mscoco"}  # fmt: skip
    return {**head, "questions": questions}, {**head, "annotations": annotations}


VQA_IMAGES = {"train": [9, 25, 30, 34, 36, 42], "val": [42, 73, 74], "test": [1, 14]}


def write_vqa2(data_dir: Path, features: str = "lmdb") -> Path:
    """The released VQA v2 json files (questions + 10-answer annotations; test: questions)."""
    root = data_dir / "datasets" / "vqa2" / "defaults"
    names = {"train": ("v2_OpenEnded_mscoco_train2014_questions.json",
                       "v2_mscoco_train2014_annotations.json"),
             "val": ("v2_OpenEnded_mscoco_val2014_questions.json",
                     "v2_mscoco_val2014_annotations.json"),
             "test": ("v2_OpenEnded_mscoco_test2015_questions.json", None)}  # fmt: skip
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, (qname, aname) in names.items():
        questions, annotations = _vqa_split(split, VQA_IMAGES[split])
        (root / "annotations" / qname).write_text(json.dumps(questions))
        if aname:
            (root / "annotations" / aname).write_text(json.dumps(annotations))
    trainval = sorted({str(i) for i in VQA_IMAGES["train"] + VQA_IMAGES["val"]})
    suffix = ".lmdb" if features == "lmdb" else ""
    write_features(root / "features" / f"trainval2014{suffix}", trainval, features)
    write_features(root / "features" / f"test2015{suffix}", [str(i) for i in VQA_IMAGES["test"]],
                   features, seed=1)  # fmt: skip
    return root


def write_vqa2_imdb(path: Path, split: str = "train") -> Path:
    """MMF's imdb ``.npy``: a header dict then one dict per question (object array)."""
    questions, annotations = _vqa_split(split, VQA_IMAGES[split])
    subtype = questions["data_subtype"]
    entries: list[dict] = [{"create_time": "2019", "dataset_name": "vqa2", "version": 1}]
    for question, annotation in zip(questions["questions"], annotations["annotations"]):
        name = f"COCO_{subtype}_{question['image_id']:012d}"
        answers = [a["answer"] for a in annotation["answers"]]
        entries.append({"image_name": name, "image_id": question["image_id"],
                        "question_id": question["question_id"], "feature_path": f"{name}.npy",
                        "question_str": question["question"],
                        "question_tokens": question["question"].rstrip("?").split(),
                        "answers": answers, "all_answers": answers})  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(entries, dtype=object), allow_pickle=True)
    return path


CAPTIONS = ["a cat on a man", "a red dog", "the man love the cat", "two dog on a cat",
            "a picture of a cat"]  # fmt: skip
KARPATHY = [(391895, "val2014", "test"), (522418, "val2014", "test"), (184613, "train2014", "train"),
            (318219, "train2014", "train"), (554625, "val2014", "restval"),
            (397133, "val2014", "val"), (37777, "val2014", "val")]  # fmt: skip


def write_coco_karpathy(data_dir: Path, features: str = "npy", images: bool = False) -> Path:
    """``dataset_coco.json`` (Karpathy split) with 5 references per image."""
    root = data_dir / "datasets" / "coco" / "defaults"
    entries = []
    for n, (cocoid, folder, split) in enumerate(KARPATHY):
        filename = f"COCO_{folder}_{cocoid:012d}.jpg"
        sentences = [{"tokens": c.split(), "raw": c.capitalize() + ".", "imgid": n,
                      "sentid": 5 * n + k} for k, c in enumerate(CAPTIONS)]  # fmt: skip
        entries.append({"filepath": folder, "sentids": [s["sentid"] for s in sentences],
                        "filename": filename, "imgid": n, "split": split,
                        "sentences": sentences, "cocoid": cocoid})  # fmt: skip
        if images:
            write_image(root / "images" / folder / filename, n)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "dataset_coco.json").write_text(
        json.dumps({"images": entries, "dataset": "coco"})
    )
    suffix = ".lmdb" if features == "lmdb" else ""
    write_features(root / "features" / f"trainval2014{suffix}", [str(k[0]) for k in KARPATHY],
                   features)  # fmt: skip
    return root


def dataset_config(name: str, *overrides: str, model: str = "toy_classifier"):
    """``dataset_config.<name>`` of a run built the way ``mmf_run`` builds it (data under
    ``MMF_DATA_DIR``, which the root conftest points at the test's folder)."""
    from mmf_imgtune.config import build_config

    config = build_config([f"model={model}", f"dataset={name}", *tokenizer_overrides(name),
                           *overrides])  # fmt: skip
    return config.dataset_config[name]


def load_split(name: str, split: str, *overrides: str):
    """Build then load one split, as the runtime's data module does."""
    from mmf_imgtune import registry

    config = dataset_config(name, *overrides)
    builder = registry.get_builder_class(name)()
    builder.build(config, split)
    return builder.load(config, split)


def collate(dataset, indices, split: str = "train"):
    from mmf_imgtune.common.collate import BatchCollator

    return BatchCollator(dataset.dataset_name, split)([dataset[i] for i in indices])
