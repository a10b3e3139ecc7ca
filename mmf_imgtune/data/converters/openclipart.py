"""Public-domain clip art with human-written titles, from two Debian packages, as image_text_jsonl.

    mmf_imgtune_openclipart --out data/openclipart [--cache DIR]
    mmf_imgtune_openclipart --out data/openclipart --png PNG_DIR --svg SVG_DIR

Sources (Open Clip Art Library 0.18, every picture dedicated to the public domain):

* ``openclipart-png`` (Debian): each picture rendered as a PNG (mostly with transparency),
  ``usr/share/openclipart/png/<category>/[<sub>/...]<name>.png``;
* ``openclipart-svg`` (Debian): the same pictures as SVGs at the same paths; each SVG's RDF
  metadata holds what its author wrote: ``dc:title``, ``dc:description`` and keywords
  (``dc:subject``). The PNG package has no text of its own.

``download`` fetches both with ``apt-get download`` into a cache folder and unpacks them with
``dpkg-deb -x`` (about 160 MB each); nothing of them is part of this repository.

What a caption and a class are. Many titles name a collection or a generator, not the picture
("gramastar" on 1375 generated stars, "Lemon SVG theme", "Part of the Flat Icon Collection
..."), so a title is a caption only when it names exactly one picture of the package (after
cleaning: underscores to spaces; a leading "Clipart by <author> - ", a trailing ``.svg`` and a
trailing series number ("Tigre04" -> "Tigre") dropped; titles holding an e-mail address or a
link, without a letter, or over 12 words are refused). The titles are kept in the language
their authors wrote them in (mostly English; one prolific author's are Italian). The class is the picture's top-level folder (``animals``, ``food``, ...): the
library's own categories, one per picture; pictures filed under two categories, and
``unsorted``, have none. Keywords are noisy ("hash", "theme" on every icon) and kept only in
``metadata.jsonl``.

``convert`` keeps the pictures with a caption, at most ``max_per_category`` per category (the
first in the order of the SHA-1 of their name: deterministic and not alphabetical), dedupes
pictures present at several paths (same file name, or the same PNG bytes) and writes, under
``--out``: ``images/<name>.png`` (RGB, transparency flattened onto white, longer side at most
``max_side``), ``metadata.jsonl`` (every kept picture's paths, title, description, keywords,
author), ``caption/`` (lines ``{id, image, text, caption}``) and ``classification/`` (lines
``{id, image, text, label}``, ``labels.txt``; categories with at least ``min_per_class`` kept
pictures), each with ``train/val/test.jsonl`` and links to the shared ``images/`` and
``features/``. The split is ifct2017's: stratified by category, within a category in the
SHA-1 order, every 7th from the 4th to val and every 7th from the 7th to test; a picture is in
the same split in both folders.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image

# One split rule and folder layout for every real set (the lead may hoist them at merge).
from mmf_imgtune.data.converters.ifct2017 import SPLITS, split_of, write_task

PACKAGES = ("openclipart-png", "openclipart-svg")
SHARE = Path("usr/share/openclipart")
CAPTION_PROMPT = "What does this clip art show?"
CLASS_PROMPT = "Which category of clip art is this?"
NO_CATEGORY = "unsorted"
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_CREDIT = re.compile(r"^clip\s*art by [^-]+ - ", re.IGNORECASE)
_REFUSED = re.compile(r"@|https?:|www\.", re.IGNORECASE)
# A series number ends many titles ("Tigre04", "Leone 01", "paper 2"): nothing in the picture
# says it. One or two digits after a space or after 3 lower-case letters; "MP3", "HP 2524" stay.
_SERIAL = re.compile(r"(?:\s\d{1,2}|(?<=[a-z]{3})\d{1,2})$")
MAX_WORDS = 12
# PNGs over this many pixels are left out: 16 PNG files (14 pictures) are rendered at up to
# 21000 x 29700 (gigabytes to decode).
MAX_PIXELS = 50_000_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_metadata(svg: Path) -> dict:
    """``{title, description, keywords, creator}`` of an SVG's RDF ``Work`` (empty if none).

    Reads only up to the end of the metadata (the drawing after it can be megabytes)."""
    try:
        for _, element in ET.iterparse(svg, events=("end",)):
            if element.tag.endswith("}Work"):
                return {
                    "title": (element.findtext(f"{DC}title") or "").strip(),
                    "description": (element.findtext(f"{DC}description") or "").strip(),
                    "keywords": [
                        (li.text or "").strip()
                        for li in element.iterfind(f"{DC}subject/{RDF}Bag/{RDF}li")
                        if (li.text or "").strip()
                    ],
                    "creator": (element.findtext(f"{DC}creator/*/{DC}title") or "").strip(),
                }
    except ET.ParseError as error:
        raise ValueError(f"{svg}: not a readable SVG ({error})") from None
    return {"title": "", "description": "", "keywords": [], "creator": ""}


def clean_title(title: str) -> str | None:
    """The caption a title gives, or None when it cannot be one (see the module docstring)."""
    text = " ".join(title.replace("_", " ").split())
    text = _CREDIT.sub("", text)
    text = re.sub(r"\.svg$", "", text, flags=re.IGNORECASE).strip()
    text = _SERIAL.sub("", text).strip()
    if not re.search(r"[^\W\d_]", text) or _REFUSED.search(text):
        return None
    return text if len(text.split()) <= MAX_WORDS else None


def png_pixels(png: Path, data: bytes) -> int:
    """Width x height from the PNG's header (``data``: its bytes), without decoding it."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError(f"{png}: not a PNG (no PNG signature and IHDR header)")
    width, height = struct.unpack(">II", data[16:24])
    return width * height


def to_rgb(png: Path, max_side: int) -> Image.Image:
    """The PNG as RGB, transparency flattened onto white, longer side at most ``max_side``."""
    try:
        with Image.open(png) as opened:
            opened.load()
            image = opened.copy()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"{png}: not a readable PNG ({error})") from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    else:
        image = image.convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def find_artworks(png_root: Path, svg_root: Path) -> list[dict]:
    """One entry per picture: ``{name, paths, categories, png, pixels, **metadata}``.

    A picture filed at several paths (the same file name, or the same PNG bytes under another
    name) is one entry; its metadata and PNG are those of its first path in sorted order."""
    svgs = sorted(p for p in svg_root.rglob("*.svg"))
    if not svgs:
        raise FileNotFoundError(f"{svg_root}: no .svg files (expected openclipart-svg's folder)")
    by_name: dict[str, dict] = {}
    by_bytes: dict[str, dict] = {}
    for svg in svgs:
        relative = svg.relative_to(svg_root).with_suffix("")
        png = png_root / relative.with_suffix(".png")
        if not png.is_file():
            continue  # the SVG package holds a few pictures the PNG package does not render
        data = png.read_bytes()
        digest = hashlib.sha1(data).hexdigest()
        artwork = by_name.get(relative.name) or by_bytes.get(digest)
        if artwork is None:
            artwork = {"name": relative.name, "paths": [], "categories": [], "png": str(png),
                       "pixels": png_pixels(png, data)}  # fmt: skip
            artwork.update(read_metadata(svg))
            by_name[relative.name] = artwork
        by_bytes[digest] = artwork
        artwork["paths"].append(relative.as_posix())
        category = relative.parts[0] if len(relative.parts) > 1 else NO_CATEGORY
        if category not in artwork["categories"]:
            artwork["categories"].append(category)
    if not by_name:
        raise FileNotFoundError(f"no SVG of {svg_root} has a PNG at the same path in {png_root}")
    return list(by_name.values())


def _as_written(title: str) -> str:
    return " ".join(title.split()).casefold()


def _order(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()


def select(
    artworks: list[dict], max_per_category: int, max_pixels: int = MAX_PIXELS
) -> dict[str, list[dict]]:
    """The kept pictures by category (their first path's), each with its ``caption``, in the
    SHA-1 order and at most ``max_per_category`` per category; PNGs over ``max_pixels`` are
    left out."""
    captions = {id(a): clean_title(a["title"]) for a in artworks}
    # Counted on the titles as written: a collection repeats its title verbatim, a series
    # ("Tigre01", "Tigre02") does not, and its pictures keep the caption "Tigre".
    holders = Counter(_as_written(a["title"]) for a in artworks)
    kept: dict[str, list[dict]] = defaultdict(list)
    for artwork in sorted(artworks, key=lambda a: _order(a["name"])):
        caption = captions[id(artwork)]
        group = kept[artwork["categories"][0]]
        small = artwork["pixels"] <= max_pixels
        alone = holders[_as_written(artwork["title"])] == 1
        if caption and small and alone and len(group) < max_per_category:
            group.append({**artwork, "caption": caption})
    return {category: kept[category] for category in sorted(kept) if kept[category]}


def _unpack_deb(package: str, debs: Path, root: Path) -> None:
    """``apt-get download`` ``package`` into ``debs`` and ``dpkg-deb -x`` it into ``root``."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(
                f"{tool} is needed to download {package} (Debian/Ubuntu), or pass --png and "
                "--svg with unpacked usr/share/openclipart/png and svg folders"
            )
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        done = subprocess.run(
            ["apt-get", "download", package], cwd=debs, capture_output=True, text=True
        )
        found = sorted(debs.glob(f"{package}_*.deb"))
        if done.returncode != 0 or not found:
            raise RuntimeError(
                f"apt-get download {package} failed (run `apt-get update` first if the package "
                f"is unknown): {done.stderr.strip()[-500:]}"
            )
    done = subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(root)], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"dpkg-deb -x {found[-1]} failed: {done.stderr.strip()[-500:]}")


def download(cache: Path) -> tuple[Path, Path]:
    """The unpacked PNG and SVG folders under ``cache``, fetched with apt-get if needed."""
    root = cache / "openclipart"
    folders = root / SHARE / "png", root / SHARE / "svg"
    for package, folder in zip(PACKAGES, folders):
        if not folder.is_dir():
            _unpack_deb(package, cache / "debs", root)
    return folders


def convert(
    png_root: Path,
    svg_root: Path,
    out: Path,
    max_per_category: int = 150,
    min_per_class: int = 35,
    max_side: int = 384,
    max_pixels: int = MAX_PIXELS,
) -> dict:
    """Write the two folders and ``metadata.jsonl``; returns the counts.

    Args:
        png_root, svg_root: the unpacked ``usr/share/openclipart/png`` and ``.../svg``.
    Returns:
        ``{artworks, too_large, pictures, caption: {split: n}, classification: {split: n},
        classes: {name: n}}``: the package's distinct pictures, those over ``max_pixels``,
        the kept ones, the split sizes and the classes' kept pictures.
    """
    artworks = find_artworks(Path(png_root), Path(svg_root))
    kept = select(artworks, max_per_category, max_pixels)
    if not kept:
        raise ValueError(
            f"no picture of {svg_root} has a title naming it alone and a PNG of at most "
            f"{max_pixels} pixels (--max-pixels): nothing to write"
        )
    counts = Counter(
        c
        for c, group in kept.items()
        for a in group
        if c != NO_CATEGORY and len(a["categories"]) == 1
    )
    classes = sorted(c for c, n in counts.items() if n >= min_per_class)
    (out / "images").mkdir(parents=True, exist_ok=True)
    captions = {s: [] for s in SPLITS}
    labels = {s: [] for s in SPLITS}
    metadata = []
    for category, group in kept.items():
        for position, artwork in enumerate(group):
            image = f"{artwork['name']}.png"
            if not (out / "images" / image).is_file():
                to_rgb(Path(artwork["png"]), max_side).save(out / "images" / image)
            split = split_of(position)
            base = {"id": artwork["name"], "image": image}
            captions[split].append({**base, "text": CAPTION_PROMPT, "caption": artwork["caption"]})
            if category in classes and len(artwork["categories"]) == 1:
                label = classes.index(category)
                labels[split].append({**base, "text": CLASS_PROMPT, "label": label})
            keys = ("paths", "title", "description", "keywords", "creator", "caption")
            metadata.append(
                {"id": artwork["name"], "split": split, **{k: artwork[k] for k in keys}}
            )
    write_task(out / "caption", captions)
    write_task(out / "classification", labels)
    (out / "classification" / "labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    lines = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in metadata)
    (out / "metadata.jsonl").write_text(lines, encoding="utf-8")
    return {
        "artworks": len(artworks),
        "too_large": sum(a["pixels"] > max_pixels for a in artworks),
        "pictures": len(metadata),
        "caption": {s: len(v) for s, v in captions.items()},
        "classification": {s: len(v) for s, v in labels.items()},
        "classes": {c: counts[c] for c in classes},
    }


def fetch_and_convert(
    out: Path,
    cache: Path,
    png: Path | None = None,
    svg: Path | None = None,
    max_per_category: int = 150,
    min_per_class: int = 35,
    max_side: int = 384,
    max_pixels: int = MAX_PIXELS,
) -> dict:
    """Download the two packages into ``cache`` unless both unpacked folders are given, then
    convert them into ``out``; returns ``convert``'s counts."""
    if png is None or svg is None:
        png, svg = download(cache)
    return convert(png, svg, out, max_per_category, min_per_class, max_side, max_pixels)
