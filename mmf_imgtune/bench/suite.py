"""Benchmark suites: which models, on which data, with which budget and seeds.

A suite is a yaml file (built-ins live in ``configs/bench/<name>.yaml``)::

    name: shapes-vqa
    dataset: shapes                      # registry name(s), comma separated
    main_metric: shapes/vqa_accuracy     # metric key without the split
    report_split: test                   # split whose metrics fill the table
    budget: {max_updates: 300, batch_size: 32, evaluation_interval: 50}
    seeds: [1, 2, 3]
    overrides: [dataset_config.shapes.task=vqa]   # every run gets these
    models:
      - {label: concat_bert, model: concat_bert, config: projects/.../concat_bert.yaml}
      - {label: imgtune_text_only, model: imgtune, overrides: [...zero_image_features=true]}
    margins: [{model: imgtune, control: imgtune_text_only}]   # optional: model - control

Every run gets the same data, ``budget`` and seeds; only the model (and its own config,
which holds its MMF recipe) differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from mmf_imgtune.config.loader import load_yaml, resolve_path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILTIN_DIR = REPO_ROOT / "configs" / "bench"
_SUITE_KEYS = {
    "name",
    "dataset",
    "main_metric",
    "report_split",
    "budget",
    "seeds",
    "overrides",
    "models",
    "description",
    "margins",
}
_MODEL_KEYS = {"label", "model", "config", "overrides"}
_MARGIN_KEYS = {"model", "control"}
_BUDGET_KEYS = {"max_updates", "batch_size", "evaluation_interval", "update_frequency"}


@dataclass
class ModelEntry:
    """One model of a suite."""

    label: str  # name in the table (unique within the suite)
    model: str  # registry name passed as model=
    config: str | None = None  # experiment yaml passed as config= (may be None)
    overrides: list[str] = field(default_factory=list)  # extra key=value for this model only


@dataclass
class Suite:
    """A parsed suite; see the module docstring for the yaml."""

    name: str
    dataset: str
    main_metric: str
    report_split: str
    budget: dict
    seeds: list[int]
    overrides: list[str]
    models: list[ModelEntry]
    description: str = ""
    # (model label, control label) pairs: the report gives model - control per metric.
    margins: list[tuple[str, str]] = field(default_factory=list)

    def run_args(self, entry: ModelEntry, seed: int, save_dir: str | Path) -> list[str]:
        """``mmf_run`` arguments of one run: data, budget and seed shared, the model its own."""
        args = [f"model={entry.model}", f"dataset={self.dataset}", "run_type=train_val_test"]
        if entry.config:
            args.append(f"config={entry.config}")
        budget = [f"training.{key}={value}" for key, value in self.budget.items()]
        # Checkpoint at each evaluation (else only at the end): a run killed half-way then
        # resumes from its last evaluation instead of starting over.
        interval = self.budget.get("evaluation_interval") or self.budget["max_updates"]
        return [
            *args,
            *budget,
            f"training.seed={seed}",
            f"training.checkpoint_interval={interval}",
            "training.progress_bar=false",
            "checkpoint.max_to_keep=1",
            # Test predictions beside every run, so a printed metric can be checked.
            "evaluation.predict=true",
            f"env.save_dir={save_dir}",
            *self.overrides,
            *entry.overrides,
        ]


def suite_path(name_or_path: str) -> Path:
    """A built-in suite name (``shapes-vqa``) or a yaml path."""
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise FileNotFoundError(
        f"suite '{name_or_path}' is neither a built-in ({', '.join(builtin_suites())}) nor a "
        "yaml file; pass --suite <name> or --suite path/to/suite.yaml"
    )


def builtin_suites() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def _unknown(keys: set, allowed: set, where: str) -> None:
    extra = sorted(str(k) for k in keys - allowed)
    if extra:
        raise KeyError(f"{where}: unknown keys {extra}; allowed: {sorted(allowed)}")


def load_suite(name_or_path: str) -> Suite:
    """Read and check a suite yaml (``includes:`` work as in run configs)."""
    path = suite_path(name_or_path)
    raw = OmegaConf.to_container(load_yaml(resolve_path(str(path))), resolve=True)
    _unknown(set(raw), _SUITE_KEYS, str(path))
    for key in ("dataset", "main_metric", "budget", "seeds", "models"):
        if not raw.get(key):
            raise KeyError(f"{path}: '{key}' is required (see mmf_imgtune/bench/suite.py)")
    _unknown(set(raw["budget"]), _BUDGET_KEYS, f"{path}: budget")
    if "max_updates" not in raw["budget"] or "batch_size" not in raw["budget"]:
        raise KeyError(f"{path}: budget needs max_updates and batch_size")
    models = []
    for index, spec in enumerate(raw["models"]):
        if isinstance(spec, str):
            spec = {"model": spec}
        _unknown(set(spec), _MODEL_KEYS, f"{path}: models[{index}]")
        if "model" not in spec:
            raise KeyError(f"{path}: models[{index}] needs 'model' (a registry name)")
        models.append(
            ModelEntry(
                label=str(spec.get("label") or spec["model"]),
                model=str(spec["model"]),
                config=spec.get("config"),
                overrides=[str(o) for o in spec.get("overrides") or []],
            )
        )
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{path}: model labels must be unique, got {labels}; set 'label'")
    margins = []
    for index, spec in enumerate(raw.get("margins") or []):
        _unknown(set(spec), _MARGIN_KEYS, f"{path}: margins[{index}]")
        pair = (str(spec.get("model")), str(spec.get("control")))
        if not set(pair) <= set(labels):
            raise KeyError(f"{path}: margins[{index}] names {list(pair)}; model labels: {labels}")
        margins.append(pair)
    return Suite(
        name=str(raw.get("name") or path.stem),
        dataset=str(raw["dataset"]),
        main_metric=str(raw["main_metric"]),
        report_split=str(raw.get("report_split") or "test"),
        budget=dict(raw["budget"]),
        seeds=[int(s) for s in raw["seeds"]],
        overrides=[str(o) for o in raw.get("overrides") or []],
        models=models,
        description=str(raw.get("description") or ""),
        margins=margins,
    )
