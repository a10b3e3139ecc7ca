"""Which images to extract, under which keys, with which known boxes; and decoding them.

Inputs: a folder of images (recursive; key = path relative to the folder without extension),
a list of paths, or an annotation file: COCO-format ``.json`` (``images[].file_name``, and
``annotations[].bbox`` x, y, w, h become the given boxes), ``.jsonl`` (one object a line with
``image``/``img``/``file_name`` and optional ``boxes`` [[x1, y1, x2, y2], ...]) or ``.txt``
(one path a line). Boxes of an annotation file are used only when it is passed as
``boxes`` (features for known boxes). Relative paths in an annotation file resolve against ``image_root`` or
else the file's folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_image, read_file

from mmf_imgtune.io.annotations import (
    AnnotationError,
    check_field,
    load_annotations,
    read_json_object,
    read_lines,
)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _key(path: Path, root: Path) -> str:
    return str(path.relative_to(root).with_suffix(""))


def _coco(path: Path, root: Path) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    data = read_json_object(str(path), "images", "a COCO annotation file needs an 'images' list")
    items, by_id = [], {}
    for number, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image:
            raise AnnotationError(f"{path}: images[{number}] needs 'id' and 'file_name'")
        name = check_field(image, "file_name", "text", f"{path}: images[{number}]")
        key = str(Path(name).with_suffix(""))
        items.append((key, str(root / name)))
        by_id[image["id"]] = key
    boxes: dict[str, list] = {}
    for ann in data.get("annotations", []):
        x, y, w, h = ann["bbox"]
        boxes.setdefault(by_id[ann["image_id"]], []).append([x, y, x + w, y + h])
    return items, {k: np.asarray(v, dtype=np.float32) for k, v in boxes.items()}


def _jsonl(path: Path, root: Path) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    items, boxes = [], {}
    for number, record in enumerate(load_annotations(str(path)), 1):
        name = record.get("image") or record.get("img") or record.get("file_name")
        if not isinstance(name, str):
            raise AnnotationError(
                f"{path}: record {number} needs an 'image', 'img' or 'file_name' string"
            )
        key = str(record.get("id", Path(name).with_suffix("")))
        items.append((key, str(root / name)))
        if "boxes" in record:
            boxes[key] = np.asarray(record["boxes"], dtype=np.float32).reshape(-1, 4)
    return items, boxes


def list_images(
    images: list[str] | str, image_root: str | None = None
) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    """Returns ([(key, image path)], {key: (N, 4) given boxes from the annotation file})."""
    if isinstance(images, (list, tuple)):
        return [(Path(p).stem, str(p)) for p in images], {}
    path = Path(images)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        return [(_key(p, path), str(p)) for p in files], {}
    if not path.is_file():
        raise FileNotFoundError(f"--images {images}: no such folder or annotation file")
    root = Path(image_root) if image_root else path.parent
    if path.suffix == ".json":
        return _coco(path, root)
    if path.suffix == ".jsonl":
        return _jsonl(path, root)
    if path.suffix == ".txt":
        lines = read_lines(str(path), "image paths")
        return [(Path(line).stem, str(root / line)) for line in lines], {}
    raise ValueError(
        f"--images {images}: give a folder of images or an annotation file (.json COCO, "
        ".jsonl, .txt)"
    )


def load_image(path: str) -> torch.Tensor:
    """Decode an image to uint8 RGB (3, H, W); raises ``OSError`` naming the file if unreadable."""
    try:
        image = decode_image(read_file(path), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError, OSError) as error:
        raise OSError(f"{path}: cannot decode image ({error})") from None
    if image.ndim != 3 or image.shape[1] < 1 or image.shape[2] < 1:
        raise OSError(f"{path}: decoded to an empty image of shape {tuple(image.shape)}")
    return image


def check_boxes(key: str, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Given boxes as (N, 4) float32 inside the image; raises naming the key otherwise."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        raise ValueError(f"{key}: no boxes given; drop the key from `boxes` to detect instead")
    if (boxes[:, 2] <= boxes[:, 0]).any() or (boxes[:, 3] <= boxes[:, 1]).any():
        raise ValueError(f"{key}: given boxes must be x1, y1, x2, y2 with x2 > x1 and y2 > y1")
    return np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
