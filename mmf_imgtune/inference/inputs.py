"""A raw image and a prompt as the batch of one a trained run reads.

``image_regions`` is the one way an image becomes region features for serving (generate,
chat, the web page): the training store's recipe (``regions.py``), given class ids written
into ``objects``, and a warning when a model trained with class ids sees none.
``prompt_batch`` adds the prompt through the data set's ``llm_prompt`` processor (so the
template matches training) and, for checkpoints with an online image encoder, the pixels.
Box and class-id lists arrive as JSON text (a command-line flag, a web query).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image

from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.inference.regions import extract_regions
from mmf_imgtune.inference.runs import InferenceError, required_processor
from mmf_imgtune.io.features.info import pad_region_sample
from mmf_imgtune.regions.images import load_image
from mmf_imgtune.trainer.load_run import LoadedRun


@dataclass
class RegionRequest:
    """Where an image's boxes come from (at most one of boxes / grid / detect).

    Fields:
        boxes: JSON text ``[[x1, y1, x2, y2], ...]`` in pixels, or None.
        objects: JSON text ``[class_id, ...]``, one per given box, or None.
        grid: the whole image + a K x K grid, or None.
        detect: the training store's detector.
    """

    boxes: str | None = None
    objects: str | None = None
    grid: int | None = None
    detect: bool = False


def _json_list(text: str | None, flag: str, example: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise InferenceError(f"{flag} {text!r}: expected JSON {example} ({error})") from None


def parse_boxes(text: str | None) -> np.ndarray | None:
    """JSON ``[[x1, y1, x2, y2], ...]`` as (n, 4) float32, or None for no text."""
    value = _json_list(text, "--boxes", "[[x1, y1, x2, y2], ...]")
    if value is None:
        return None
    try:
        boxes = np.asarray(value, dtype=np.float32).reshape(-1, 4)
    except (ValueError, TypeError) as error:
        raise InferenceError(
            f"--boxes {text!r}: expected JSON [[x1, y1, x2, y2], ...] ({error})"
        ) from None
    if len(boxes) == 0:
        raise InferenceError("--boxes is empty; omit it to use the training store's boxes")
    return boxes


def parse_objects(text: str | None, boxes: np.ndarray | None) -> np.ndarray | None:
    """JSON ``[class_id, ...]`` as (n,) int64, one per given box, or None for no text."""
    value = _json_list(text, "--objects", "[class_id, ...]")
    if value is None:
        return None
    if boxes is None:
        raise InferenceError("--objects gives class ids of --boxes boxes; pass --boxes too")
    objects = np.asarray(value).reshape(-1)
    if len(objects) != len(boxes) or not np.issubdtype(objects.dtype, np.integer):
        raise InferenceError(
            f"--objects needs one integer class id per --boxes box ({len(boxes)}), got {value!r}"
        )
    return objects.astype(np.int64)


def warn_missing_classes(info: dict, model_config: DictConfig, model: str) -> None:
    """Models trained with (oracle) object class ids see none for boxes without labels."""
    classes = int((model_config.get("region_encoder") or {}).get("num_object_classes") or 0)
    count = int(info["num_boxes"])
    if classes > 0 and not bool((info["objects"][:count] > 0).any()):
        print(
            f"[mmf_imgtune] warning: this model was trained with object class ids "
            f"(model_config.{model}.region_encoder.num_object_classes={classes}, e.g. a data "
            "set's true labels), but the regions of this image carry none (grids and given "
            "boxes have no classes). Its answer may be poor; pass --boxes with --objects "
            "'[id, ...]'.",
            file=sys.stderr,
        )


def read_image(path: str) -> torch.Tensor:
    """(3, H, W) uint8 pixels of an image file; an unreadable file is an InferenceError."""
    try:
        return load_image(path)
    except OSError as error:
        raise InferenceError(str(error)) from None


def image_regions(
    run: LoadedRun, image: torch.Tensor, request: RegionRequest
) -> tuple[torch.Tensor, dict]:
    """``image_feature_0`` (max_features, D) and ``image_info_0`` of a (3, H, W) uint8 image,
    made with the training store's recipe and the boxes ``request`` asks for."""
    config = run.config
    boxes = parse_boxes(request.boxes)
    objects = parse_objects(request.objects, boxes)
    model_config = config.model_config[config.model]
    features, info = extract_regions(
        image,
        boxes,
        run_folder=run.save_dir,
        dataset=run.dataset,
        dataset_config=config.dataset_config[run.dataset],
        model_config=model_config,
        device=str(next(run.model.parameters()).device),
        grid=request.grid,
        detect=request.detect,
    )
    if objects is not None:
        info["objects"][: len(objects)] = torch.from_numpy(objects)
    warn_missing_classes(info, model_config, config.model)
    return features, info


def image_batch(run: LoadedRun, image_path: str, request: RegionRequest) -> SampleList:
    """A batch of one holding only an image's regions (a chat's ``set_image``)."""
    if getattr(run.model, "image_encoder", None) is not None:
        raise InferenceError("checkpoints with an online image encoder are not served by chat yet")
    features, info = image_regions(run, read_image(image_path), request)
    batch = SampleList([Sample({"image_feature_0": features, "image_info_0": info})])
    return batch.to(next(run.model.parameters()).device)


def _online_sample(run: LoadedRun, sample: Sample, image_path: str, image, boxes) -> dict:
    """Pixels and box geometry for a model that pools its own features (joint training)."""
    if boxes is None:
        raise InferenceError(
            "this checkpoint computes features online from given boxes; "
            "pass --boxes '[[x1, y1, x2, y2], ...]'"
        )
    raw = {"bbox": boxes, "image_width": image.shape[2], "image_height": image.shape[1]}
    _, info = pad_region_sample(np.zeros((len(boxes), 1), np.float32), raw, len(boxes))
    transform = run.processor("torchvision_transforms")
    with Image.open(image_path) as pil:
        pil = pil.convert("RGB")
        sample.image = (
            transform({"image": pil})["image"]
            if transform
            else torch.from_numpy(np.asarray(pil)).permute(2, 0, 1).float() / 255
        )
    return info


def prompt_batch(
    run: LoadedRun, image_path: str, prompt: str, request: RegionRequest
) -> tuple[SampleList, str]:
    """A batch of one: prompt tensors, region features and (online encoders) the image.

    Returns:
        (SampleList, the prompt processor's ``answer_prefix``).
    """
    image = read_image(image_path)
    prompt_processor = required_processor(run, "llm_prompt")
    sample = Sample(prompt_processor({"text": prompt}))
    if getattr(run.model, "image_encoder", None) is None:
        sample.image_feature_0, info = image_regions(run, image, request)
    else:  # joint training: the model pools its own features; it needs pixels and boxes
        info = _online_sample(run, sample, image_path, image, parse_boxes(request.boxes))
    sample.image_info_0 = info
    batch = SampleList([sample])
    batch.dataset_name, batch.dataset_type = run.dataset, "test"
    device = next(run.model.parameters()).device
    return batch.to(device), str(prompt_processor.config.answer_prefix)
