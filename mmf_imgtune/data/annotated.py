"""Shared machinery of the real data sets (hateful_memes, vqa2, coco, image_text_jsonl).

Each real data set is a list of annotation records plus, per record, an image file and/or a
key into MMF region-feature files. ``AnnotatedDataset`` owns what they share: per-split path
lists from ``dataset_config.<d>.{annotations,images,features}.<split>`` (a path or a list, as
MMF writes them, relative to ``data_dir``), the check that every record has its features
(``skip_missing_features``), lazy per-process feature readers (an LMDB handle must not cross a
fork) and image loading through ``image_processor``. Subclasses turn one record into a
``Sample`` in ``get_sample``.
"""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig
from PIL import Image

from mmf_imgtune.common.sample import Sample
from mmf_imgtune.data.base_builder import BaseDatasetBuilder, split_paths
from mmf_imgtune.data.base_dataset import BaseDataset
from mmf_imgtune.errors import DataError
from mmf_imgtune.io.features import FeatureReader

# Records listed in an error message before "...".
_SHOWN = 5
# One reader per (pid, path, max_features): train and val often share one LMDB, and LMDB
# refuses to open the same environment twice in a process.
_READERS: dict[tuple[int, str, int], Any] = {}


def feature_reader(path: str, max_features: int) -> Any:
    """This process's ``FeatureReader`` for ``path`` (opened on first use)."""

    key = (os.getpid(), os.path.abspath(path), max_features)
    if key not in _READERS:
        release_readers(key[1], inherited_only=True)
        _READERS[key] = FeatureReader(path, max_features)
    return _READERS[key]


def release_readers(path: str, inherited_only: bool = False) -> None:
    """Close and forget the cached readers of ``path`` (before writing to it, or, with
    ``inherited_only``, the parent's handles a forked worker inherited: py-lmdb refuses to open
    an environment the process already holds, and an inherited handle must not be used
    across a fork). Reaches into the LMDB store until FeatureReader offers a close()."""
    path = os.path.abspath(path)
    for key in [k for k in _READERS if k[1] == path]:
        if inherited_only and key[0] == os.getpid():
            continue
        env = getattr(getattr(_READERS.pop(key), "store", None), "_env", None)
        if env is not None:
            env.close()


def existing_paths(
    config: DictConfig, section: str, split: str, dataset: str, source: str
) -> list[str]:
    """``split_paths`` that fails, naming the path, its config key and ``source``, when a
    file is missing."""
    paths = split_paths(config, section, split, dataset)
    for path in paths:
        BaseDatasetBuilder.require_file(path, f"dataset_config.{dataset}.{section}.{split}", source)
    return paths


def _first(items: list[Any]) -> str:
    shown = ", ".join(str(i) for i in items[:_SHOWN])
    return shown + (", ..." if len(items) > _SHOWN else "")


class AnnotatedDataset(BaseDataset):
    """Records + optional images + optional region features.

    Args:
        dataset_name: registry name.
        config: ``dataset_config.<dataset_name>``.
        dataset_type: ``train``, ``val`` or ``test``.
        records: annotation dicts; ``feature_key(record)`` and ``image_file(record)`` say
            where each record's features and image are.
    """

    def __init__(
        self, dataset_name: str, config: DictConfig, dataset_type: str, records: list[dict]
    ):
        super().__init__(dataset_name, config, dataset_type)
        self.init_processors()
        self.use_features = bool(config.use_features)
        self.use_images = bool(config.use_images)
        if self.use_features:
            self.feature_paths = split_paths(config, "features", dataset_type, dataset_name)
            records = self._check_features(records)
        if self.use_images:
            if not hasattr(self, "image_processor"):
                raise KeyError(
                    f"dataset_config.{dataset_name}.use_images is true but processors has no "
                    "image_processor; add one (type: torchvision_transforms) or set "
                    "use_images=false"
                )
            self.image_dirs = split_paths(config, "images", dataset_type, dataset_name)
            self._check_images(records)
        self.records = records

    # --- what subclasses say ------------------------------------------------------------
    def feature_key(self, record: dict) -> str:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement feature_key")

    def image_file(self, record: dict) -> str:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement image_file")

    def record_id(self, record: dict) -> Any:
        return record.get("id")

    def get_sample(self, record: dict) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement get_sample")

    # --- Dataset ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        sample = self.get_sample(record)
        if self.use_features:
            features, info = self._read_features(self.feature_key(record))
            sample.image_feature_0 = features
            sample.image_info_0 = info
        if self.use_images:
            sample.image = self._load_image(record)
        return sample

    # --- features -----------------------------------------------------------------------
    def _open_readers(self) -> list[Any]:
        # Per process: DataLoader workers and DDP processes open their own handles.
        return [feature_reader(p, int(self.config.max_features)) for p in self.feature_paths]

    def _read_features(self, key: str) -> tuple[Any, dict]:
        for reader in self._open_readers():
            if reader.has(key):
                return reader.read(key)
        raise KeyError(f"no region features for key '{key}' in {self.feature_paths}")

    def _check_features(self, records: list[dict]) -> list[dict]:
        for path in self.feature_paths:
            BaseDatasetBuilder.require_file(
                path,
                f"dataset_config.{self.dataset_name}.features.{self.dataset_type}",
                "Region features come as MMF's detectron.lmdb or a folder of <id>.npy + "
                "<id>_info.npy; extract them from the images with mmf_imgtune.regions "
                "(extract_features), or set use_features=false and use_images=true.",
            )
        readers = self._open_readers()
        missing = [r for r in records if not any(rd.has(self.feature_key(r)) for rd in readers)]
        if not missing:
            return records
        key = f"dataset_config.{self.dataset_name}.skip_missing_features"
        if not bool(self.config.skip_missing_features):
            raise KeyError(
                f"{len(missing)} of {len(records)} '{self.dataset_type}' records of "
                f"{self.dataset_name} have no region features in {self.feature_paths} "
                f"(first ids: {_first([self.record_id(r) for r in missing])}; feature keys: "
                f"{_first([self.feature_key(r) for r in missing])}). Extract the missing ones "
                f"or set {key}=true to drop those records."
            )
        print(
            f"[mmf_imgtune] {self.dataset_name}/{self.dataset_type}: skipping {len(missing)} "
            f"records without region features ({key}=true), first ids: "
            f"{_first([self.record_id(r) for r in missing])}"
        )
        dropped = {id(r) for r in missing}
        kept = [r for r in records if id(r) not in dropped]
        if not kept:
            raise KeyError(
                f"no '{self.dataset_type}' record of {self.dataset_name} has region features "
                f"in {self.feature_paths}: wrong features path or feature keys?"
            )
        return kept

    # --- images -------------------------------------------------------------------------
    def _image_path(self, record: dict) -> str | None:
        name = self.image_file(record)
        for folder in self.image_dirs:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
        return None

    def _check_images(self, records: list[dict]) -> None:
        # Each file once: COCO's train split has five records per image.
        files = {self.image_file(r): r for r in records}
        missing = [name for name, r in files.items() if self._image_path(r) is None]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(files)} '{self.dataset_type}' images of "
                f"{self.dataset_name} are not in {self.image_dirs} (set by dataset_config."
                f"{self.dataset_name}.images.{self.dataset_type}); first missing: "
                f"{_first(missing)}"
            )

    def _load_image(self, record: dict) -> Any:
        path = self._image_path(record)
        try:
            with Image.open(path) as image:
                # Palette/RGBA/grey files are common in meme folders: one mode for transforms.
                image = image.convert("RGB")
        except (OSError, SyntaxError, ValueError) as error:  # PIL's ways to say "corrupt"
            raise DataError(
                f"{path}: cannot read this image of {self.dataset_name}/{self.dataset_type} "
                f"({type(error).__name__}: {error}); replace the file, or drop its line from "
                "the annotations"
            ) from None
        return self.image_processor({"image": image})["image"]
