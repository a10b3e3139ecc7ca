"""End to end under real MMF (facebookresearch/mmf): its ``mmf_run`` / ``mmf_predict`` train,
validate, checkpoint and predict ImgTune from the ``mmf_imgtune_mmf`` plugin, on our shapes
builder (VQA, and captioning: generated text) and on MMF's own ``hateful_memes`` builder reading
an MMF-format LMDB.

MMF does not install from PyPI in a working form; build it with ``scripts/install_mmf.sh``
(docs/mmf.md). Where ``mmf`` does not import, these tests skip and say so.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf


def _mmf_import_error() -> str | None:
    """Why the plugin cannot import MMF here (None: it can). Checked in a child process, as
    the runs are: MMF patches ``transformers`` at import time and the test process must not
    depend on that."""
    if importlib.util.find_spec("mmf") is None:
        return "No module named 'mmf'"
    probe = subprocess.run(
        [sys.executable, "-c", "import mmf_imgtune_mmf; mmf_imgtune_mmf.require_mmf()"],
        capture_output=True,
        text=True,
    )
    lines = probe.stderr.strip().splitlines()
    return None if probe.returncode == 0 else (lines[-1] if lines else "import failed")


MMF_ERROR = _mmf_import_error()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        MMF_ERROR is not None,
        reason=f"real MMF is not importable ({MMF_ERROR}); build it with scripts/install_mmf.sh",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
USER_DIR = str(ROOT / "mmf_imgtune_mmf")
CONFIGS = ROOT / "projects" / "imgtune" / "configs" / "mmf_plugin"
SHAPES_TINY = [
    "dataset_config.shapes.sizes.train=16",
    "dataset_config.shapes.sizes.val=8",
    "dataset_config.shapes.sizes.test=8",
    "dataset_config.shapes.image_size=64",
    "dataset_config.shapes.extract.min_size=64",
    "dataset_config.shapes.extract.max_size=64",
]
RUN_TINY = [
    "training.batch_size=4",
    "training.max_updates=4",
    "training.log_interval=2",
    "training.evaluation_interval=2",
    "training.checkpoint_interval=2",
    "training.num_workers=0",
    "training.seed=1",
]


def mmf(tmp_path: Path, entry: str, *opts: str) -> str:
    """Run MMF's own CLI (``mmf_cli.run`` / ``mmf_cli.predict``) in a fresh process."""
    env = dict(os.environ, MMF_SAVE_DIR=str(tmp_path / "save"), MMF_DATA_DIR=str(tmp_path / "data"))
    code = (
        f"import sys; from mmf_cli.{entry} import {entry}; sys.argv[1:] = {list(opts)!r}; {entry}()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=800,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"MMF {entry} failed:\n{log[-4000:]}"
    return log


def test_mmf_run_trains_validates_checkpoints_and_predicts_imgtune_on_shapes(tmp_path):
    common = [
        f"config={CONFIGS / 'shapes' / 'vqa.yaml'}", "model=imgtune", "dataset=shapes",
        f"env.user_dir={USER_DIR}", *SHAPES_TINY, *RUN_TINY,
    ]  # fmt: skip
    log = mmf(tmp_path, "run", *common, "run_type=train_val")
    save = tmp_path / "save"
    for name in ("current.ckpt", "best.ckpt", "models/model_2.ckpt", "models/model_4.ckpt"):
        assert (save / name).is_file(), f"MMF wrote no {name}: {sorted(os.listdir(save))}"
    assert "progress: 4/4" in log and "val/shapes/imgtune_vqa_accuracy" in log, log[-3000:]
    assert "train/shapes/logit_bce" in log, "ImgTune's own loss key does not reach MMF's logs"

    log = mmf(tmp_path, "predict", *common, "run_type=test",
              f"checkpoint.resume_file={save / 'best.ckpt'}")  # fmt: skip
    reports = sorted(save.glob("shapes_imgtune_*/reports/shapes_*test*.json"))
    assert reports, f"mmf_predict wrote no predictions json:\n{log[-3000:]}"
    rows = json.loads(reports[-1].read_text())
    from mmf_imgtune.data.shapes.vocab import ANSWERS

    assert rows and {"question_id", "answer"} <= set(rows[0])
    assert {row["answer"] for row in rows} <= set(ANSWERS)
    assert len({row["question_id"] for row in rows}) == len(rows), "a question predicted twice"


def test_mmf_run_trains_imgtune_to_caption_shapes_and_predicts_captions(tmp_path):
    """A generation task under MMF's trainer: ImgTune's LM loss trains, validation generates
    text scored by our CIDEr / BLEU-4 (list fields MMF's combined report extends), early
    stopping reads CIDEr, and mmf_predict writes the generated captions."""
    common = [
        f"config={CONFIGS / 'shapes' / 'caption.yaml'}", "model=imgtune", "dataset=shapes",
        f"env.user_dir={USER_DIR}", *SHAPES_TINY, *RUN_TINY,
        "model_config.imgtune.generation.max_new_tokens=4",
    ]  # fmt: skip
    log = mmf(tmp_path, "run", *common, "run_type=train_val")
    assert "train/shapes/lm_cross_entropy" in log, log[-3000:]
    for metric in ("imgtune_cider", "imgtune_bleu4"):
        assert f"val/shapes/{metric}" in log, log[-3000:]
    assert "best_val/shapes/imgtune_cider" in log, "early stopping did not read CIDEr"

    save = tmp_path / "save"
    log = mmf(tmp_path, "predict", *common, "run_type=test",
              f"checkpoint.resume_file={save / 'best.ckpt'}")  # fmt: skip
    reports = sorted(save.glob("shapes_imgtune_*/reports/shapes_*test*.json"))
    assert reports, f"mmf_predict wrote no captions json:\n{log[-3000:]}"
    rows = json.loads(reports[-1].read_text())
    assert len(rows) == 8 and all(set(row) == {"id", "caption"} for row in rows), rows[:2]
    assert all(isinstance(row["caption"], str) for row in rows)
    assert len({row["id"] for row in rows}) == 8, "an image captioned twice"


def test_mmf_own_hateful_memes_builder_and_lmdb_feed_imgtune(tmp_path):
    from mmf_layouts import FEATURE_DIM, WORDS, write_hateful_memes

    root = write_hateful_memes(tmp_path / "data", features="lmdb", images=False)
    # MMF downloads a zoo resource unless its folder carries MMF's .built.json marker of the
    # zoo version (mmf_convert_hm writes them; the root one stands for the 'extras'): mark the
    # data as present, with MMF's own code.
    mark = (
        "from mmf.utils.configuration import get_zoo_config; from mmf.utils.download import "
        "mark_done; version, _ = get_zoo_config('hateful_memes', 'defaults', None, 'datasets'); "
        f"[mark_done('{root}/' + p, version) for p in ('', 'features', 'annotations')]"
    )
    subprocess.run([sys.executable, "-c", mark], check=True, capture_output=True)
    # MMF's command line cannot set a dict value (the tokenizer): a user yaml on top of ours.
    tokenizer = {"name_or_path": None, "word_level": {"words": WORDS}}
    tiny = {
        "includes": [str(CONFIGS / "hateful_memes" / "defaults.yaml")],
        "model_config": {"imgtune": {
            "lm": {"name_or_path": None}, "lm_training": "full", "tokenizer": tokenizer,
            "region_encoder": {"feature_dim": FEATURE_DIM}}},
        "dataset_config": {"hateful_memes": {
            # Fewer rows than the 3-6 stored boxes: MMF's max_features count exceeds them.
            "max_features": 5,
            "processors": {"text_processor": {"params": {
                "tokenizer": tokenizer, "max_seq_length": 16}}}}},
    }  # fmt: skip
    config = tmp_path / "hm_tiny.yaml"
    OmegaConf.save(OmegaConf.create(tiny), config)
    common = [f"config={config}", "model=imgtune", "dataset=hateful_memes",
              f"env.user_dir={USER_DIR}", *RUN_TINY]  # fmt: skip
    # The val loader opens the same detectron.lmdb as train's (py-lmdb 3 refuses a 2nd open).
    log = mmf(tmp_path, "run", *common, "run_type=train_val")
    assert "val/hateful_memes/imgtune_roc_auc" in log, log[-3000:]
    assert "train/hateful_memes/cross_entropy" in log, log[-3000:]

    save = tmp_path / "save"
    mmf(
        tmp_path,
        "predict",
        *common,
        "run_type=test",
        f"checkpoint.resume_file={save / 'best.ckpt'}",
    )
    reports = sorted(save.glob("hateful_memes_imgtune_*/reports/*test*.csv"))
    assert reports, "mmf_predict wrote no Hateful Memes submission csv"
    with reports[-1].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {"id", "proba", "label"} <= set(rows[0])
    assert all(0.0 <= float(r["proba"]) <= 1.0 and r["label"] in ("0", "1") for r in rows)
