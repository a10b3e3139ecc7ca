"""Which regions did ImgTune look at? Per-region attention of the answer, drawn as a PNG.

The answer is generated, then re-read teacher-forced with attention recorded at the positions
that predict the answer tokens (the last prompt token and the answer tokens but the last):
- ``prefix``: the LLM's self-attention from those positions to the visual prefix, averaged
  over layers and heads (this one pass switches to eager attention, the kernel that returns
  weights: ``lm.attention_kernel``). Attention rollout without the rollout; Abnar & Zuidema
  2020, arXiv 2005.00928, show raw attention is a rough but useful signal;
- ``cross_attention``: the gated blocks' text-to-visual weights, averaged over blocks and heads;
- ``both``: the mean of the two distributions.
With a Perceiver resampler the weights over latents are mapped to regions through the
resampler's latent-to-region attention. Padded boxes get 0; real boxes sum to 1.
The figure shows the image, its boxes coloured by weight, a colour bar, question and answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mmf_imgtune.common.collate import BatchCollator
from mmf_imgtune.common.sample import SampleList
from mmf_imgtune.data.processors.llm_prompt import DEFAULTS
from mmf_imgtune.registry import registry


def select_sample(sample_list: Any, index: int) -> SampleList:
    """A batch of one: row ``index`` of every batched tensor/list (nested dicts too)."""
    size = sample_list.get_batch_size() if hasattr(sample_list, "get_batch_size") else None

    def pick(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: pick(item) for key, item in value.items()}
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == size:
            return value[index : index + 1]
        if isinstance(value, list) and len(value) == size:
            return [value[index]]
        return value  # batch-wide values (dataset_name, dataset_type)

    return SampleList({key: pick(value) for key, value in sample_list.items()})


def _answer_inputs(
    model: Any, sample: SampleList, answer: str, answer_prefix: str
) -> tuple[torch.Tensor, ...]:
    """Prompt (left-padded) + answer ids, mask, and the query positions in the text."""
    prompt_ids, prompt_mask = sample["prompt_ids"], sample["prompt_mask"]
    answer_ids = (
        model.tokenizer(answer_prefix + answer, add_special_tokens=False)["input_ids"]
        if answer
        else []
    )
    answer_ids = torch.tensor([answer_ids], dtype=torch.long, device=prompt_ids.device)
    ids = torch.cat([prompt_ids, answer_ids], dim=1)  # (1, L + A)
    mask = torch.cat([prompt_mask, torch.ones_like(answer_ids, dtype=prompt_mask.dtype)], dim=1)
    last_prompt = prompt_ids.size(1) - 1
    queries = torch.arange(last_prompt, last_prompt + max(1, answer_ids.size(1)))
    return ids, mask, queries


@torch.no_grad()
def region_weights(
    model: Any, sample: SampleList, answer: str, answer_prefix: str = " "
) -> torch.Tensor:
    """Share of the answer's attention on each region of a one-sample batch.

    Returns:
        (N,) float weights: 0 for padded boxes, summing to 1 over real ones.
    """
    visual = model.encode_regions(sample)
    ids, mask, queries = _answer_inputs(model, sample, answer, answer_prefix)
    vmask = visual["mask"]  # (1, K)
    prefix = model.uses_prefix
    record: list = []
    # offset: where the text starts after the prefix visual tokens (0 without prefix fusion).
    out, offset = model.run_lm(
        model.lm.get_input_embeddings()(ids), mask, visual, record, attentions=prefix
    )
    parts = []
    if prefix:
        attention = mean_self_attention(out)  # (S, S)
        parts.append(attention[queries + offset, :offset].mean(0))  # (K,)
    if record:
        blocks = torch.stack([w[0].float() for w in record])  # (blocks, S, K)
        parts.append(blocks.mean(0)[queries + offset].mean(0))
    weights = [normalise_weights(p, vmask[0]) for p in parts]
    over_tokens = torch.stack(weights).mean(0)  # (K,)
    if "region_attention" in visual:  # resampler: latents -> regions
        over_tokens = over_tokens @ visual["region_attention"][0].float()  # (N,)
    return normalise_weights(over_tokens, visual["region_mask"][0])


def mean_self_attention(out: Any) -> torch.Tensor:
    """The LLM's self-attention of sample 0, averaged over layers and heads.

    Args:
        out: the HF output of a pass with ``attentions=True`` (``ImgTune.run_lm``, which runs
            that pass with the eager kernel, ``lm.attention_kernel``).

    Returns:
        (S, S) float: query position x key position.
    """
    if not out.attentions or any(a is None for a in out.attentions):
        raise RuntimeError(
            "explanations of prefix fusion need the LLM's attention weights, and it returned "
            "none although the pass ran with eager attention (lm.attention_kernel): this LLM "
            "cannot return attention weights; explain with fusion=cross_attention instead"
        )
    layers = torch.stack([a[0].float().mean(0) for a in out.attentions])  # (layers, S, S)
    return layers.mean(0)


def normalise_weights(weights: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Non-negative ``weights`` (K,) on the ``keep`` positions, summing to 1 (uniform when
    none carries any weight)."""
    weights = weights.clamp(min=0) * keep.to(weights.dtype)
    total = weights.sum()
    if total <= 0:  # no signal (e.g. zero boxes): uniform over real boxes
        weights = keep.to(weights.dtype)
        total = weights.sum().clamp(min=1)
    return weights / total


def _load_image(sample: SampleList, image_path: str | None) -> np.ndarray:
    if image_path:
        with Image.open(image_path) as image:
            return np.asarray(image.convert("RGB"))
    if "image" in sample:
        return sample["image"][0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()
    info = sample["image_info_0"]
    width, height = int(_first(info["image_width"])), int(_first(info["image_height"]))
    return np.full((height, width, 3), 0.5, dtype=np.float32)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple, torch.Tensor)) else value


def plot_explanation(
    image: np.ndarray,
    boxes: np.ndarray,
    weights: np.ndarray,
    question: str,
    answer: str,
    out_png: str,
) -> None:
    """Save the image with boxes coloured by weight, a colour bar and a Q/A title.

    Args:
        image: (H, W, 3) uint8 or [0, 1] float; boxes: (n, 4) x1, y1, x2, y2 in its pixels;
        weights: (n,) per box.
    """
    # The object-oriented API with an Agg canvas: no pyplot, no global backend switch.
    import matplotlib
    from matplotlib import cm, colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    figure = Figure(figsize=(6, 6.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(image)
    norm = colors.Normalize(vmin=0.0, vmax=max(float(weights.max()) if len(weights) else 1.0, 1e-6))
    cmap = matplotlib.colormaps["plasma"]
    for (x1, y1, x2, y2), weight in sorted(zip(boxes, weights), key=lambda bw: bw[1]):
        colour = cmap(norm(weight))
        axes.add_patch(
            Rectangle(
                (x1, y1),
                x2 - x1,
                y2 - y1,
                fill=False,
                edgecolor=colour,
                linewidth=1.5 + 3.0 * norm(weight),
            )
        )
        axes.text(
            x1,
            y1,
            f"{weight:.2f}",
            color="white",
            fontsize=8,
            va="bottom",
            bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "linewidth": 0},
        )
    figure.colorbar(
        cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=axes,
        fraction=0.046,
        pad=0.04,
        label="share of the answer's attention",
    )
    axes.set_title(f"Q: {question}\nA: {answer}", fontsize=10)
    axes.set_axis_off()
    figure.savefig(out_png, dpi=100, bbox_inches="tight")


def explain_example(
    model: Any,
    sample_list: Any,
    index: int,
    image_path: str | None,
    out_png: str,
    answer_prefix: str = " ",
    question: str | None = None,
) -> dict:
    """Generate the answer for example ``index`` and save its region-attention PNG.

    Args:
        model: an ``ImgTune`` with a tokenizer (generation task).
        sample_list: a batch with ``prompt_ids``/``prompt_mask`` and ``image_info_0.bbox``.
        image_path: the example's image file (None: ``sample_list.image`` or a grey canvas).
        out_png: where to write the figure.
        answer_prefix: text between prompt and answer (the llm_prompt processor's).
        question: title text (None: the sample's formatted prompt ``text``).

    Returns:
        ``question``, ``answer``, ``weights`` (list over real boxes, sums to 1), ``boxes``
        (original pixels) and ``path``.
    """
    model.eval()
    sample = select_sample(sample_list, index)
    answer = model.generate(sample)[0]
    weights = region_weights(model, sample, answer, answer_prefix)
    info = sample["image_info_0"]
    count = int(info["num_boxes"][0]) if info.get("num_boxes") is not None else len(weights)
    boxes = info["bbox"][0, :count].float().cpu().numpy()
    image = _load_image(sample, image_path)
    if info.get("image_width") is not None:  # boxes are in original pixels
        scale_x = image.shape[1] / float(_first(info["image_width"]))
        scale_y = image.shape[0] / float(_first(info["image_height"]))
        boxes = boxes * np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
    if question is None:
        text = sample.get("text")
        question = _first(text) if text is not None else ""
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    real = weights[:count].cpu().numpy()
    plot_explanation(image, boxes, real, str(question), answer, str(out_png))
    return {
        "question": str(question),
        "answer": answer,
        "weights": real.tolist(),
        "boxes": boxes.tolist(),
        "path": str(out_png),
    }


def explain_split_example(run_dir: str, split: str, index: int, out_png: str) -> dict:
    """Explain example ``index`` of ``split`` with a finished run's ``best.ckpt`` (or
    ``current.ckpt``) and its saved ``config.yaml``: what ``make demo`` calls
    (``mmf_imgtune.cli.explain``)."""
    # Here, not at the top: the plotting above serves exports too (pipeline(explain=True)),
    # which load without the training runtime that opening a run folder needs.
    from mmf_imgtune.trainer.load_run import load_run

    run = load_run(run_dir)
    config, model = run.config, run.model
    name = config.datasets[0]
    dataset = registry.get_builder_class(name)().load(config.dataset_config[name], split)
    sample = dataset[index]
    batch = BatchCollator(name, split)([sample])
    processor = getattr(dataset, "text_processor", None)
    prefix = (
        processor.config.answer_prefix
        if hasattr(processor, "config")
        else DEFAULTS["answer_prefix"]
    )
    return explain_example(model, batch, 0, sample.get("image_path"), out_png, answer_prefix=prefix)
