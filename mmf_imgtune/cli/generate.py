"""``mmf_imgtune_generate``: answer a prompt about one image with a trained ImgTune checkpoint.

    mmf_imgtune_generate --checkpoint save/best.ckpt --image x.png --prompt "what colour is
    the circle?" [--config save/config.yaml] [--boxes '[[x1, y1, x2, y2], ...]' [--objects
    '[3, 7]'] | --grid K | --detect] [--explain out.png] [--max-new-tokens N] [--num-beams N]
    [--device cpu]

The run's resolved ``config.yaml`` (next to the checkpoint, or one folder up for
``models/model_<N>.ckpt``) says how the model was built and which feature store it trained
on; that store's extraction record (``mmf_imgtune.io.features.provenance``) says how its
features were made (backend, weights and their sha256, layer, input size, boxes), and the
image's regions are extracted the same way (``generate_regions.py``), so a training image
gets the features, and the answer, that evaluation gave it. Boxes: ``--boxes`` (given),
``--grid K``, ``--detect`` (the store's detector), or by default the store's own source for
images without given boxes. The prompt goes through the data set's ``llm_prompt``
processor, so the template matches training. Prints the answer; notes go to stderr.
Exit codes: 0 success, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image

from mmf_imgtune.common.sample import Sample, SampleList
from mmf_imgtune.io.features.info import pad_region_sample
from mmf_imgtune.models.imgtune.explain import explain_example
from mmf_imgtune.regions.images import load_image
from mmf_imgtune.trainer.load_run import LoadedRun, MissingConfigError, RunLoadError, load_run


class GenerateError(ValueError):
    """A user-facing problem (missing file, mismatched features); printed, exit code 2."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mmf_imgtune_generate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint", required=True, help="current.ckpt / best.ckpt / model_N.ckpt"
    )
    parser.add_argument("--image", required=True, help="image file (png, jpg, ...)")
    parser.add_argument("--prompt", required=True, help="question or caption prompt")
    parser.add_argument(
        "--config", help="the run's config.yaml (default: found next to the checkpoint)"
    )
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument(
        "--boxes",
        help="JSON list of [x1, y1, x2, y2] pixel boxes (default: the boxes the training "
        "store's features were made with: its grid or its detector)",
    )
    boxes.add_argument("--grid", type=int, help="regions: the whole image + a K x K grid")
    boxes.add_argument(
        "--detect", action="store_true", help="regions: the training store's detector"
    )
    parser.add_argument(
        "--objects", help="JSON list of class ids, one per --boxes box (models trained with them)"
    )
    parser.add_argument("--explain", metavar="PNG", help="also save a region-attention figure")
    parser.add_argument("--max-new-tokens", type=int, help="override generation.max_new_tokens")
    parser.add_argument("--num-beams", type=int, help="override generation.num_beams")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    return parser.parse_args(list(argv))


def open_run(args: argparse.Namespace) -> LoadedRun:
    """``load_run`` of ``--checkpoint`` (and ``--config``); a missing file is a GenerateError."""
    try:
        run = load_run(args.checkpoint, args.device, config=args.config)
    except MissingConfigError as error:
        raise GenerateError(f"{error}: --config <save_dir>/config.yaml") from None
    except RunLoadError as error:
        raise GenerateError(str(error)) from None
    # The training store is found relative to the run folder (generate_regions.py).
    args.config_path = run.save_dir / "config.yaml"
    return run


def generating_run(args: argparse.Namespace) -> LoadedRun:
    """``open_run`` of a checkpoint that generates text (``task: generation``)."""
    run = open_run(args)
    if run.config.model_config[run.config.model].get("task", "generation") != "generation":
        raise GenerateError(
            f"{args.checkpoint}: model_config.{run.config.model}.task is not "
            "'generation'; only text-generating checkpoints can answer prompts"
        )
    return run


def _processor(run: LoadedRun, kind: str) -> Any | None:
    processor = run.processor(kind)
    if processor is None and kind == "llm_prompt":
        raise GenerateError(
            f"dataset_config.{run.dataset}.processors has no llm_prompt processor; "
            "the checkpoint was not trained to generate text from prompts"
        )
    return processor


def _json_list(text: str | None, flag: str, example: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise GenerateError(f"{flag} {text!r}: expected JSON {example} ({error})") from None


def parse_boxes(text: str | None) -> np.ndarray | None:
    value = _json_list(text, "--boxes", "[[x1, y1, x2, y2], ...]")
    if value is None:
        return None
    try:
        boxes = np.asarray(value, dtype=np.float32).reshape(-1, 4)
    except (ValueError, TypeError) as error:
        raise GenerateError(
            f"--boxes {text!r}: expected JSON [[x1, y1, x2, y2], ...] ({error})"
        ) from None
    if len(boxes) == 0:
        raise GenerateError("--boxes is empty; omit it to use the training store's boxes")
    return boxes


def parse_objects(text: str | None, boxes: np.ndarray | None) -> np.ndarray | None:
    value = _json_list(text, "--objects", "[class_id, ...]")
    if value is None:
        return None
    if boxes is None:
        raise GenerateError("--objects gives class ids of --boxes boxes; pass --boxes too")
    objects = np.asarray(value).reshape(-1)
    if len(objects) != len(boxes) or not np.issubdtype(objects.dtype, np.integer):
        raise GenerateError(
            f"--objects needs one integer class id per --boxes box ({len(boxes)}), got {value!r}"
        )
    return objects.astype(np.int64)


def warn_missing_classes(info: dict, model_config: DictConfig, model: str) -> None:
    """Models trained with (oracle) object class ids see none for boxes without labels."""
    classes = int((model_config.get("region_encoder") or {}).get("num_object_classes") or 0)
    count = int(info["num_boxes"])
    if classes > 0 and not bool((info["objects"][:count] > 0).any()):
        print(
            f"mmf_imgtune_generate: warning: this model was trained with object class ids "
            f"(model_config.{model}.region_encoder.num_object_classes={classes}, e.g. a data "
            "set's true labels), but the regions of --image carry none (grids and given boxes "
            "have no classes). Its answer may be poor; pass --boxes with --objects '[id, ...]'.",
            file=sys.stderr,
        )


def make_sample_list(args: argparse.Namespace, run: LoadedRun) -> tuple:
    """A batch of one: prompt tensors, region features and (for online encoders) the image.

    Returns:
        (SampleList, the prompt processor's ``answer_prefix``).
    """

    config, model, dataset = run.config, run.model, run.dataset
    dataset_config = config.dataset_config[dataset]
    try:
        image = load_image(args.image)
    except OSError as error:
        raise GenerateError(str(error)) from None
    prompt_processor = _processor(run, "llm_prompt")
    sample = Sample(prompt_processor({"text": args.prompt}))
    boxes = parse_boxes(args.boxes)
    objects = parse_objects(args.objects, boxes)
    model_config = config.model_config[config.model]
    if getattr(model, "image_encoder", None) is None:
        # Lazily: generate_regions imports GenerateError from this module (a cycle).
        from mmf_imgtune.cli.generate_regions import extract_regions

        features, info = extract_regions(image, boxes, args, dataset, dataset_config, model_config)
        if objects is not None:
            info["objects"][: len(objects)] = torch.from_numpy(objects)
        warn_missing_classes(info, model_config, config.model)
        sample.image_feature_0 = features
    else:  # joint training: the model pools its own features; it needs pixels and boxes
        if boxes is None:
            raise GenerateError(
                "this checkpoint computes features online from given boxes; "
                "pass --boxes '[[x1, y1, x2, y2], ...]'"
            )

        raw = {"bbox": boxes, "image_width": image.shape[2], "image_height": image.shape[1]}
        _, info = pad_region_sample(np.zeros((len(boxes), 1), np.float32), raw, len(boxes))
        transform = _processor(run, "torchvision_transforms")

        with Image.open(args.image) as pil:
            pil = pil.convert("RGB")
            sample.image = (
                transform({"image": pil})["image"]
                if transform
                else torch.from_numpy(np.asarray(pil)).permute(2, 0, 1).float() / 255
            )
    sample.image_info_0 = info
    batch = SampleList([sample])
    batch.dataset_name, batch.dataset_type = dataset, "test"
    return batch.to(args.device), str(prompt_processor.config.answer_prefix)


def generate(argv: Sequence[str]) -> dict:
    """Run the command; returns ``answer`` (and ``explanation`` with --explain)."""
    args = parse_args(argv)
    # A context, not torch.set_grad_enabled(False): a caller's process keeps its autograd.
    with torch.no_grad():
        run = generating_run(args)
        model = run.model
        batch, answer_prefix = make_sample_list(args, run)
        answer = model.generate(
            batch, max_new_tokens=args.max_new_tokens, num_beams=args.num_beams
        )[0]
        result: dict = {"answer": answer}
        if args.explain:
            result["explanation"] = explain_example(
                model, batch, 0, args.image, args.explain, answer_prefix, question=args.prompt
            )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Console script; prints the answer (and where the explanation went)."""
    try:
        result = generate(sys.argv[1:] if argv is None else argv)
    except GenerateError as error:
        print(f"mmf_imgtune_generate: error: {error}", file=sys.stderr)
        return 2
    print(result["answer"])
    if "explanation" in result:
        weights = ", ".join(f"{w:.2f}" for w in result["explanation"]["weights"])
        print(
            f"explanation: {result['explanation']['path']} (region weights {weights})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
