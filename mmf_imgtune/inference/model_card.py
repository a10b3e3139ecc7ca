"""The ``README.md`` model card of an export folder: what the model does, what it learned
from, how well it did (the run's ``metrics.json``), how it was trained and how to use it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


def _metrics(save_dir: Path) -> tuple[dict, str | None]:
    path = save_dir / "metrics.json"
    if not path.is_file():
        return {}, None
    result = json.loads(path.read_text(encoding="utf-8"))
    return result.get("metrics") or {}, result.get("train_command")


def _metrics_table(metrics: dict) -> str:
    if not metrics:
        return "No metrics: the run's metrics.json holds none (a run_type without val/test).\n"
    rows = "\n".join(
        f"| `{name}` | {value:.4f} |" if isinstance(value, float) else f"| `{name}` | {value} |"
        for name, value in sorted(metrics.items())
    )
    return "| metric | value |\n|---|---|\n" + rows + "\n"


def _regions_line(regions: dict | None) -> str:
    if regions is None:
        return "an online image encoder (pixels and boxes in)"
    weights = (regions.get("weights") or {}).get("name")
    size = regions.get("input_size") or {}
    sources = ", ".join(sorted(regions.get("box_sources") or {})) or "none recorded"
    return (
        f"{regions.get('backend')} {regions.get('backbone')} ({weights}), layer "
        f"'{regions.get('layer')}', {regions.get('feature_dim')}-d, input "
        f"{size.get('min_size')}-{size.get('max_size')} px, boxes: {sources}, at most "
        f"{regions.get('max_features')} regions"
    )


def model_card(run: Any, out: Path, regions: dict | None, merged: bool) -> str:
    """The card's markdown."""
    config = run.config
    model_config = config.model_config[config.model]
    data = OmegaConf.to_container(config.dataset_config[run.dataset], resolve=True)
    metrics, command = _metrics(Path(run.save_dir))
    lm = model_config.lm
    llm = f"a randomly initialised {lm.config.model_type} (inline config)"
    if lm.name_or_path:  # a hub name as given; a local folder by its name only
        name = str(lm.name_or_path)
        llm = Path(name).name if os.path.isabs(name) else name
        llm += f" ({lm.gguf_file})" if lm.gguf_file else ""
    given_only = set((regions or {}).get("box_sources") or {}) == {"given"}
    boxes = ", boxes=[[x1, y1, x2, y2], ...]" if given_only else ""
    lora = model_config.lm_training == "lora"
    lm_folder = (
        "`lm_adapter/` (a PEFT LoRA adapter folder)"
        if lora and not merged
        else "`lm/` (a plain Hugging Face folder" + (", LoRA merged)" if merged else ")")
    )
    command = command or (
        f"not recorded in metrics.json (train_command); the resolved config of the run: `mmf_run "
        f"config={Path(run.save_dir) / 'config.yaml'}`"
    )
    return f"""---
library_name: mmf_imgtune
tags: [mmf_imgtune, imgtune, multimodal, region-features]
---
# ImgTune: {model_config.task} on {run.dataset}

ImgTune fuses region features of an image into a causal LLM ({llm}), fusion
`{model_config.fusion}`, LLM training `{model_config.lm_training}`. Exported by
`mmf_imgtune_export` from the run's `{run.checkpoint.name}`.

## Task and data
- task: `{model_config.task}` (data set task: `{data.get("task", "")}`)
- data: `{run.dataset}`
- regions: {_regions_line(regions)} (`regions.json`)

## Metrics (the run's metrics.json)
{_metrics_table(metrics)}
## Training command
{command}

## Files
`config.json` (the model's config), `model.safetensors` (all weights), the tokenizer files,
`processor_config.json` (prompt template and lengths), `regions.json` (how regions are made),
{lm_folder}.

## Use
```python
import mmf_imgtune
pipe = mmf_imgtune.pipeline("{out.name}", device="cpu")
print(pipe("image.png", "what colour is the circle?"{boxes}))
```
Serve it with an OpenAI-compatible API: `mmf_imgtune_serve {out.name} --port 8000`.
"""
