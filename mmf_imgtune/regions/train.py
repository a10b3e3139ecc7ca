"""Fine-tune a torchvision Faster R-CNN on boxes from a COCO-format annotation file.

What users do for their own domain before extracting features: the light ``mobilenet_v2``
detector (ImageNet backbone installed offline) trains in minutes on CPU at small input sizes.
The output checkpoint is what ``mmf_imgtune_extract --weights`` loads; class ids in extracted
``objects`` are 1..C in the order of the file's ``categories``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from mmf_imgtune.regions.detector import build_detector, save_detector
from mmf_imgtune.regions.images import load_image


def load_coco(annotations: str, image_root: str | None) -> tuple[list[dict], list[str]]:
    """Returns ([{path, boxes (N, 4) xyxy, labels (N,) 1..C}], class names)."""
    path = Path(annotations)
    data = json.loads(path.read_text())
    for field in ("images", "annotations", "categories"):
        if field not in data:
            raise ValueError(f"{annotations}: COCO-format file needs a '{field}' list")
    root = Path(image_root) if image_root else path.parent
    categories = sorted(data["categories"], key=lambda c: c["id"])
    label_of = {c["id"]: index + 1 for index, c in enumerate(categories)}
    records = {
        image["id"]: {"path": str(root / image["file_name"]), "boxes": [], "labels": []}
        for image in data["images"]
    }
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        if w <= 0 or h <= 0:
            continue  # degenerate boxes make Faster R-CNN's losses NaN
        record = records[ann["image_id"]]
        record["boxes"].append([x, y, x + w, y + h])
        record["labels"].append(label_of[ann["category_id"]])
    items = [
        {
            "path": r["path"],
            "boxes": torch.tensor(r["boxes"], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(r["labels"], dtype=torch.int64),
        }
        for r in records.values()
    ]
    return items, [c["name"] for c in categories]


def _freeze_batchnorm(model: nn.Module) -> None:
    """Detection batches are small: keep ImageNet BN statistics and affine fixed."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
            for parameter in module.parameters():
                parameter.requires_grad_(False)


def train_detector(
    annotations: str,
    output: str,
    *,
    image_root: str | None = None,
    backbone: str = "mobilenet_v2",
    steps: int = 300,
    batch_size: int = 4,
    lr: float = 0.01,
    warmup_steps: int = 50,
    min_size: int | None = None,
    max_size: int | None = None,
    imagenet_backbone: bool = True,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Train and write a detector checkpoint to ``output``.

    Args:
        annotations: COCO-format json (``images``, ``annotations`` with ``bbox`` x, y, w, h
            in pixels, ``categories``).
        output: checkpoint path for ``mmf_imgtune_extract --weights``.
        image_root: folder of the images (default: the annotation file's folder).
        backbone: mobilenet_v2 (light, ImageNet weights offline) or an FPN backbone.
        steps, batch_size: optimizer steps and images per step.
        lr, warmup_steps: SGD (momentum 0.9) learning rate with linear warmup, cosine decay.
        min_size, max_size: detector input resize; None = the backbone's default.
        imagenet_backbone: start mobilenet_v2 from the offline ImageNet weights.
    Returns:
        ``{"losses": [total loss per step], "class_names": [...], "seconds": float}``.
    """
    torch.manual_seed(seed)
    items, class_names = load_coco(annotations, image_root)
    if not items:
        raise ValueError(f"{annotations}: no images to train on")
    model = build_detector(backbone, len(class_names) + 1, imagenet_backbone, min_size, max_size)
    model.to(device).train()
    _freeze_batchnorm(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, steps - warmup_steps)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    losses, start = [], time.perf_counter()
    for step in tqdm(range(steps), desc="train detector", disable=None if progress else True):
        if len(order) < batch_size:
            order += torch.randperm(len(items), generator=generator).tolist()
        batch = [items[order.pop()] for _ in range(batch_size)]
        images = [load_image(item["path"]).to(device).float().div_(255) for item in batch]
        targets = [
            {"boxes": i["boxes"].to(device), "labels": i["labels"].to(device)} for i in batch
        ]
        loss = sum(model(images, targets).values())
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"detector loss became {loss.item()} at step {step}; lower --lr (now {lr}) or "
                f"check the boxes in {annotations}"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 10.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
    model.eval()
    save_detector(model.cpu(), output, backbone, class_names)
    return {"losses": losses, "class_names": class_names, "seconds": time.perf_counter() - start}
