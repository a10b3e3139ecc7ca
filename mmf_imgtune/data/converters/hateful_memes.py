"""Convert the Hateful Memes download (zip) into MMF's layout, like MMF's ``mmf_convert_hm``.

The command is ``mmf_imgtune_convert_hm`` (``mmf_imgtune.cli.convert_hateful_memes``).

Writes ``<data_dir>/datasets/hateful_memes/defaults/annotations/*.jsonl`` and
``.../images/img/*.png``. The zip from the challenge site is password-protected: the password
is read from a password file, else ``HM_ZIP_PASSWORD``, else asked for on the terminal; it is
never written anywhere. Phase-1 names (``dev.jsonl``, ``test.jsonl``) are also written as
``dev_seen.jsonl`` / ``test_seen.jsonl``, the names the ``hateful_memes`` builder reads.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import sys
import zipfile
from pathlib import PurePosixPath

# Phase-1 file -> the phase-2 name MMF's configs use.
ALIASES = {"dev.jsonl": "dev_seen.jsonl", "test.jsonl": "test_seen.jsonl"}


def read_password(password_file: str | None) -> bytes | None:
    """The zip password: ``password_file``'s first line, else ``HM_ZIP_PASSWORD``, else asked
    for on a terminal; None when there is none (an unprotected zip)."""
    if password_file:
        with open(password_file, encoding="utf-8") as handle:
            return handle.read().strip().encode()
    if os.environ.get("HM_ZIP_PASSWORD"):
        return os.environ["HM_ZIP_PASSWORD"].encode()
    if sys.stdin.isatty():
        return getpass.getpass("Hateful Memes zip password (empty if none): ").encode() or None
    return None


def _target(member: str, root: str) -> str | None:
    """Where a zip member goes in MMF's layout (None: not needed)."""
    parts = PurePosixPath(member).parts
    if member.endswith("/") or any(p.startswith(("__MACOSX", ".")) for p in parts):
        return None
    if parts[-1].endswith(".jsonl"):
        return os.path.join(root, "annotations", parts[-1])
    if "img" in parts[:-1] and parts[-1].lower().endswith((".png", ".jpg", ".jpeg")):
        return os.path.join(root, "images", "img", parts[-1])
    return None


def extract_zip(path: str, root: str, password: bytes | None) -> list[str]:
    """Copy the annotations and images of one zip into ``root``; returns the jsonl names."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"zip '{path}' not found: download it from https://hatefulmemeschallenge.com "
            "(after accepting the licence) and pass its path with --zip_files"
        )
    written = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = _target(info.filename, root)
            if target is None:
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                with archive.open(info, pwd=password) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except RuntimeError as error:  # zipfile: encrypted member, no/wrong password
                raise PermissionError(
                    f"{path}: cannot read {info.filename} ({error}); give the password from "
                    "the download page with --password_file FILE or HM_ZIP_PASSWORD"
                ) from None
            if target.endswith(".jsonl"):
                written.append(os.path.basename(target))
    return written


def check_images(root: str) -> tuple[int, list[str]]:
    """(annotated images, those missing under images/) over every jsonl in ``root``."""
    seen, missing = set(), []
    annotations = os.path.join(root, "annotations")
    for name in sorted(os.listdir(annotations)):
        with open(os.path.join(annotations, name), encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    img = json.loads(line)["img"]
                    if img not in seen and not os.path.isfile(os.path.join(root, "images", img)):
                        missing.append(img)
                    seen.add(img)
    return len(seen), missing


def convert(zip_files: list[str], data_dir: str, password: bytes | None = None) -> str:
    """Extract ``zip_files`` into MMF's layout under ``data_dir``; returns the dataset root."""
    root = os.path.join(data_dir, "datasets", "hateful_memes", "defaults")
    names = [n for z in zip_files for n in extract_zip(z, root, password)]
    for old, new in ALIASES.items():
        if old in names and new not in names:
            shutil.copyfile(
                os.path.join(root, "annotations", old), os.path.join(root, "annotations", new)
            )
            print(f"phase-1 {old} also written as {new}")
    if "train.jsonl" not in names:
        raise FileNotFoundError(
            f"no train.jsonl in {zip_files}: is this the Hateful Memes data zip?"
        )
    total, missing = check_images(root)
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {total} annotated images are not in the zip(s), e.g. "
            f"{missing[:3]}; add the zip that holds them to --zip_files"
        )
    print(f"wrote {len(set(names))} annotation files and {total} images to {root}")
    return root
