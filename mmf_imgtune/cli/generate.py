"""``mmf_imgtune_generate``: answer a prompt about one image with a trained ImgTune checkpoint.

    mmf_imgtune_generate --checkpoint save/best.ckpt --image x.png --prompt "what colour is
    the circle?" [--config save/config.yaml] [--boxes '[[x1, y1, x2, y2], ...]']
    [--explain out.png] [--max-new-tokens N] [--num-beams N] [--device cpu]

The run's resolved ``config.yaml`` (next to the checkpoint, or one folder up for
``models/model_<N>.ckpt``) says how the model was built and how its training features were
made: regions are extracted on the fly with ``mmf_imgtune.regions`` using the training data
set's ``feature_extraction`` settings (backend, weights, backbone, layer, sizes), over the
``--boxes`` given or, without them, the boxes the detector proposes. The prompt goes through the
data set's ``llm_prompt`` processor, so the template matches training. Prints the answer.
Exit codes: 0 success, 2 bad arguments or files (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

# extract_features options read from dataset_config.<d>.feature_extraction, and their values
# when a data set does not say (the extractor's own defaults: ImageNet MobileNetV2, pooled).
_EXTRACTION = {
    "backend": "torchvision",  # torchvision | detectron2
    "weights": None,  # None: the offline ImageNet MobileNetV2
    "backbone": "mobilenet_v2",  # torchvision detector backbone
    "layer": None,  # None: box_head for trained detectors, pooled otherwise
    "min_size": None,  # detector input size (None: the backbone's default)
    "max_size": None,
    "config_file": None,  # detectron2 only
}
# Detection settings when no --boxes are given (extract_features' defaults).
_DETECTION = {"num_boxes": None, "min_boxes": 1, "conf_threshold": 0.2, "nms": 0.3}


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
    parser.add_argument(
        "--boxes", help="JSON list of [x1, y1, x2, y2] pixel boxes (default: detect)"
    )
    parser.add_argument("--explain", metavar="PNG", help="also save a region-attention figure")
    parser.add_argument("--max-new-tokens", type=int, help="override generation.max_new_tokens")
    parser.add_argument("--num-beams", type=int, help="override generation.num_beams")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    return parser.parse_args(list(argv))


def find_config(checkpoint: str, config: str | None) -> Path:
    """The run's config.yaml: ``--config``, next to the checkpoint, or above ``models/``."""
    if config:
        if not os.path.isfile(config):
            raise GenerateError(f"--config {config}: no such file")
        return Path(config)
    folder = Path(checkpoint).resolve().parent
    for candidate in (folder / "config.yaml", folder.parent / "config.yaml"):
        if candidate.is_file():
            return candidate
    raise GenerateError(
        f"no config.yaml next to {checkpoint} (looked in {folder} and {folder.parent}); pass "
        "--config <save_dir>/config.yaml of the run that wrote the checkpoint"
    )


def load_model(config: DictConfig, checkpoint: str, device: str) -> torch.nn.Module:
    from mmf_imgtune.trainer.run import build_model, load_model_weights
    from mmf_imgtune.utils.user_dir import import_user_dir

    if not os.path.isfile(checkpoint):
        raise GenerateError(f"--checkpoint {checkpoint}: no such file")
    import mmf_imgtune  # noqa: F401  (registers built-in components)

    import_user_dir(config.env.get("user_dir") if "env" in config else None)
    if config.model_config[config.model].get("task", "generation") != "generation":
        raise GenerateError(
            f"{checkpoint}: model_config.{config.model}.task is not "
            "'generation'; only text-generating checkpoints can answer prompts"
        )
    model = build_model(config)
    load_model_weights(model, checkpoint)
    return model.to(device).eval()


def _processor(dataset_config: DictConfig, kind: str, dataset: str) -> Any | None:
    from mmf_imgtune.data.processors.base import build_processor

    for spec in (dataset_config.get("processors") or {}).values():
        if spec is not None and spec.get("type") == kind:
            return build_processor(spec)
    if kind == "llm_prompt":
        raise GenerateError(
            f"dataset_config.{dataset}.processors has no llm_prompt processor; "
            "the checkpoint was not trained to generate text from prompts"
        )
    return None


def parse_boxes(text: str | None) -> np.ndarray | None:
    if not text:
        return None
    try:
        boxes = np.asarray(json.loads(text), dtype=np.float32).reshape(-1, 4)
    except (ValueError, TypeError) as error:
        raise GenerateError(
            f"--boxes {text!r}: expected JSON [[x1, y1, x2, y2], ...] ({error})"
        ) from None
    if len(boxes) == 0:
        raise GenerateError("--boxes is empty; omit it to let the detector propose boxes")
    return boxes


def extract_regions(
    image: torch.Tensor,
    boxes: np.ndarray | None,
    dataset_config: DictConfig,
    feature_dim: int,
    device: str,
) -> tuple[torch.Tensor, dict]:
    """Region features of one uint8 (3, H, W) image with the training data's extractor.

    Returns:
        ``image_feature_0`` (max_features, D) and ``image_info_0`` (``pad_region_sample``).
    """
    from mmf_imgtune.data.features.info import pad_region_sample
    from mmf_imgtune.regions import build_backend
    from mmf_imgtune.regions.images import check_boxes

    extraction = dataset_config.get("feature_extraction") or {}
    options = {key: extraction.get(key, value) for key, value in _EXTRACTION.items()}
    backend = build_backend(
        str(options.pop("backend")),
        max_boxes=int(dataset_config.get("max_features") or 100),
        device=device,
        **_DETECTION,
        **options,
    )
    if backend.feature_dim != feature_dim:
        raise GenerateError(
            f"the extractor gives {backend.feature_dim}-d features but the model was trained on "
            f"{feature_dim}-d ones; fix dataset_config.*.feature_extraction in the config"
        )
    if boxes is not None:
        boxes = check_boxes("--boxes", boxes, image.shape[2], image.shape[1])
    result = backend.extract([image], [boxes])[0]
    info = {
        "bbox": result.boxes,
        "objects": result.objects,
        "cls_prob": result.cls_prob,
        "image_width": int(image.shape[2]),
        "image_height": int(image.shape[1]),
    }
    max_features = int(dataset_config.get("max_features") or len(result.boxes))
    return pad_region_sample(result.features, info, max_features, source="--image")


def make_sample_list(args: argparse.Namespace, config: DictConfig, model: Any) -> tuple:
    """A batch of one: prompt tensors, region features and (for online encoders) the image.

    Returns:
        (SampleList, the prompt processor's ``answer_prefix``).
    """
    from mmf_imgtune.common.sample import Sample, SampleList
    from mmf_imgtune.regions.images import load_image

    dataset = str(config.datasets[0])
    dataset_config = config.dataset_config[dataset]
    try:
        image = load_image(args.image)
    except OSError as error:
        raise GenerateError(str(error)) from None
    prompt_processor = _processor(dataset_config, "llm_prompt", dataset)
    sample = Sample(prompt_processor({"text": args.prompt}))
    boxes = parse_boxes(args.boxes)
    feature_dim = int(config.model_config[config.model].region_encoder.feature_dim)
    if getattr(model, "image_encoder", None) is None:
        features, info = extract_regions(image, boxes, dataset_config, feature_dim, args.device)
        sample.image_feature_0 = features
    else:  # joint training: the model pools its own features; it needs pixels and boxes
        if boxes is None:
            raise GenerateError(
                "this checkpoint computes features online from given boxes; "
                "pass --boxes '[[x1, y1, x2, y2], ...]'"
            )
        from mmf_imgtune.data.features.info import pad_region_sample

        raw = {"bbox": boxes, "image_width": image.shape[2], "image_height": image.shape[1]}
        _, info = pad_region_sample(np.zeros((len(boxes), 1), np.float32), raw, len(boxes))
        transform = _processor(dataset_config, "torchvision_transforms", dataset)
        from PIL import Image

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
    config = OmegaConf.load(find_config(args.checkpoint, args.config))
    # A context, not torch.set_grad_enabled(False): a caller's process keeps its autograd.
    with torch.no_grad():
        model = load_model(config, args.checkpoint, args.device)
        batch, answer_prefix = make_sample_list(args, config, model)
        answer = model.generate(
            batch, max_new_tokens=args.max_new_tokens, num_beams=args.num_beams
        )[0]
        result: dict = {"answer": answer}
        if args.explain:
            from mmf_imgtune.models.imgtune.explain import explain_example

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
