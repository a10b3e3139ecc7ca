"""The built-in ``jsonl-*`` suites: the folder comes with one ``--set``, every model's generic
config runs on it, and the caption suite reports ImgTune's margin over its text-only control.

The runs use tiny models (a random 2-layer Llama instead of SmolLM2, a word-level tokenizer),
a few updates and one seed; everything else is the built-in suite and its project configs.
"""

import json
import shutil

import pytest
import yaml
from jsonl_helpers import JSONL_TOKENIZER

from mmf_imgtune.bench.suite import BUILTIN_DIR, load_suite
from mmf_imgtune.cli.bench import main
from mmf_imgtune.config import ConfigError, build_config
from mmf_imgtune.modules.text_metrics import PTB_TOKENIZER, REGEX_TOKENIZER

pytestmark = pytest.mark.slow
KEY = "dataset_config.image_text_jsonl"
TINY_LM = ["model_config.imgtune.lm.name_or_path=null", "model_config.imgtune.lm.gguf_file=null"]
TINY_BERT = ("{vocab_size: 32, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, "
             "intermediate_size: 64, max_position_embeddings: 80}")  # fmt: skip


def tiny_suite(tmp_path, name: str) -> str:
    """The built-in suite with tiny-model overrides per model (written next to the test)."""
    raw = yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text())
    for entry in raw["models"]:
        model = entry["model"]
        extra = TINY_LM if model == "imgtune" else []
        if model in ("butd",):
            extra = [f"model_config.butd.{k}=16" for k in ("embed_dim", "attention_dim")]
        elif model != "imgtune" and model != "unimodal_image":
            extra = [f"model_config.{model}.bert.config={TINY_BERT}"]
        entry["overrides"] = [*entry.get("overrides", []), *extra]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def shared(folder) -> list[str]:
    params = f"{KEY}.processors.text_processor.params"
    sets = [f"{KEY}.data_dir={folder}", f"{params}.tokenizer={JSONL_TOKENIZER}",
            f"{params}.max_seq_length=12", f"{KEY}.extract.min_size=32",
            f"{KEY}.extract.max_size=48", "training.log_interval=1",
            "scheduler.params.num_warmup_steps=1"]  # fmt: skip
    return [word for s in sets for word in ("--set", s)]


def test_caption_suite_reports_every_model_and_the_text_only_margin(tmp_path, jsonl_folder):
    folder = jsonl_folder("caption")
    out = tmp_path / "out"
    main(["--suite", tiny_suite(tmp_path, "jsonl-caption"), "--out", str(out), "--seeds", "1",
          "--max-updates", "2", "--batch-size", "3", "--timeout", "600", "--no-prepare", *shared(folder)])  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["models"]) == ["butd", "imgtune", "imgtune_text_only"]
    metrics = {}
    for label, model in results["models"].items():
        assert model["summary"]["runs_ok"] == 1, (label, model["summary"].get("error"))
        metrics[label] = model["summary"]["metrics"]
        assert {"test/image_text_jsonl/bleu4", "test/image_text_jsonl/cider"} <= set(metrics[label])
        # How varied the generated captions are, and how CIDEr tokenised them.
        run = json.loads((out / "runs" / label / "seed_1" / "save" / "metrics.json").read_text())
        (predictions,) = run["predictions"]
        texts = [row["caption"] for row in json.loads(open(predictions).read())]
        summary = model["summary"]["generated_text"]["1"]
        assert summary["generated"] == len(texts) and summary["distinct"] == len(set(texts))
        assert summary["most_frequent_count"] == texts.count(summary["most_frequent"])
        tokenizer = PTB_TOKENIZER if shutil.which("java") else REGEX_TOKENIZER
        assert model["summary"]["metric_notes"]["test/image_text_jsonl/cider"] == (
            f"tokenizer: {tokenizer}"
        )
    margins = results["margins"]["imgtune - imgtune_text_only"]
    for key in ("test/image_text_jsonl/bleu4", "test/image_text_jsonl/cider"):
        expected = metrics["imgtune"][key]["mean"] - metrics["imgtune_text_only"][key]["mean"]
        assert margins[key]["mean"] == pytest.approx(expected, abs=1e-12)
        assert margins[key]["seeds"] == [1]
    table = (out / "results.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| imgtune - imgtune_text"))
    assert f"{margins['test/image_text_jsonl/cider']['mean']:+.4f}" in row
    # The grid features were extracted into the folder once, with their record.
    assert len(list((folder / "features").glob("*_info.npy"))) == 15


@pytest.mark.parametrize(("suite", "kind"), [("jsonl-classification", "label"),
                                             ("jsonl-vqa", "answers")])  # fmt: skip
def test_classification_and_vqa_suites_configs_resolve_from_the_folder(
    tmp_path, jsonl_folder, suite, kind
):
    folder = jsonl_folder(kind)
    loaded = load_suite(suite)
    assert {"imgtune", "imgtune_text_only", "concat_bert", "visual_bert"} <= {
        m.label for m in loaded.models
    }
    for entry in loaded.models:
        args = loaded.run_args(entry, 1, tmp_path / "save")
        config = build_config([*args, f"{KEY}.data_dir={folder}"])
        head = config.model_config[entry.model]
        size = head.num_labels if entry.model != "imgtune" else (
            head.num_labels if kind == "label" else head.num_answers)  # fmt: skip
        assert size == 3, entry.label  # read from the folder: three colours


def test_missing_folder_is_one_line_naming_the_key(capsys):
    with pytest.raises(ConfigError) as error:
        build_config(["config=projects/imgtune/configs/image_text_jsonl/caption.yaml"])
    assert str(error.value).count("\n") == 0 and f"{KEY}.data_dir is required" in str(error.value)
    with pytest.raises(SystemExit, match=f"--set {KEY}.data_dir=PATH"):
        main(["--suite", "jsonl-caption", "--out", "unused"])
