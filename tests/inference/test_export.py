"""``mmf_imgtune_export`` and ``ImgTune.from_pretrained``: the export folder alone rebuilds the
model, which decodes exactly the tokens ``mmf_predict`` produced from the checkpoint."""

import json
import subprocess
import sys

import pytest
import torch
from export_helpers import predict_batches
from safetensors import safe_open

from mmf_imgtune.cli.export import main
from mmf_imgtune.models.imgtune.model import ImgTune

pytestmark = pytest.mark.slow
FUSIONS = ("prefix", "cross_attention", "both")


@pytest.mark.parametrize("merged", [False, True], ids=["adapter", "merged"])
@pytest.mark.parametrize("fusion", FUSIONS)
def test_from_pretrained_generates_the_tokens_of_mmf_predict(tiny_runs, tiny_exports, fusion,
                                                             merged):  # fmt: skip
    run = tiny_runs[fusion]
    model = ImgTune.from_pretrained(str(tiny_exports[fusion, merged]))
    expected = {row["id"]: row["answer"] for row in run["predictions"]}
    answers = {}
    for batch in predict_batches(run["save"]):
        for sample_id, text in zip(batch["id"].tolist(), model.generate(batch)):
            answers[sample_id] = text
    assert answers == expected
    # Not a constant answer: the comparison tells models apart.
    assert len(set(expected.values())) > 1, expected


@pytest.mark.parametrize("fusion", FUSIONS)
def test_merged_logits_match_the_adapter_model(tiny_runs, tiny_exports, fusion):
    batch = next(predict_batches(tiny_runs[fusion]["save"]))
    adapter = ImgTune.from_pretrained(str(tiny_exports[fusion, False]))
    merged = ImgTune.from_pretrained(str(tiny_exports[fusion, True]))
    with torch.no_grad():
        a, b = adapter(batch)["scores"], merged(batch)["scores"]
    assert a.shape == b.shape and (a - b).abs().max() < 1e-4
    assert not any("lora_" in name for name, _ in merged.named_parameters())


@pytest.mark.parametrize("fusion", FUSIONS)
def test_merged_lm_folder_loads_alone_in_transformers(tiny_runs, tiny_exports, fusion):
    from transformers import AutoModelForCausalLM

    folder = tiny_exports[fusion, True]
    lm = AutoModelForCausalLM.from_pretrained(folder / "lm").eval()
    adapter = ImgTune.from_pretrained(str(tiny_exports[fusion, False]))
    ids = torch.tensor([[3, 17, 25, 40, 8, 2]])
    with torch.no_grad():  # text only: the gated blocks see no image and pass through
        expected = adapter.lm(input_ids=ids).logits
        got = lm(input_ids=ids).logits
    assert (expected - got).abs().max() < 1e-4
    assert not (folder / "lm_adapter").exists()


def test_adapter_export_is_a_peft_folder_and_files_are_complete(tiny_runs, tiny_exports):
    folder = tiny_exports["both", False]
    adapter_config = json.loads((folder / "lm_adapter" / "adapter_config.json").read_text())
    assert adapter_config["peft_type"] == "LORA" and adapter_config["r"] == 4
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "mmf_imgtune" and config["lora"] == "adapter"
    assert config["trained_precision"] == "32-true"  # the run's, from its metrics.json
    keys = {"architectures", "model_type", "lora", "mmf_imgtune_version", "trained_precision"}
    assert set(config) == keys | {"imgtune"}
    assert config["imgtune"]["lm"]["name_or_path"] is None  # no path of the training machine
    assert config["imgtune"]["tokenizer"] == {"name_or_path": "."}
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert any("lora_A" in key for key in weights.keys())
    regions = json.loads((folder / "regions.json").read_text())
    assert regions["backend"] == "torchvision" and regions["layer"] == "pooled"
    assert len(regions["weights"]["sha256"]) == 64 and regions["box_sources"] == {
        "given": {"images": regions["box_sources"]["given"]["images"]}
    }
    assert regions["input_size"] == {"min_size": 256, "max_size": 256}
    card = (folder / "README.md").read_text()
    metrics = json.loads((tiny_runs["both"]["save"] / "metrics.json").read_text())
    assert "generation_vqa_accuracy" in card and metrics["command"].startswith("mmf_predict ")
    assert metrics["train_command"].startswith("mmf_run ") and metrics["train_command"] in card
    assert "tokenizer.json" in {p.name for p in folder.iterdir()}


def test_from_pretrained_needs_no_runtime(tiny_exports):
    """A fresh interpreter loads the export without Lightning or the trainer package."""
    code = (
        "import sys, mmf_imgtune\n"
        f"m = mmf_imgtune.ImgTune.from_pretrained({str(tiny_exports['both', True])!r})\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('lightning', 'pytorch_lightning')"
        " or n.startswith('mmf_imgtune.trainer')]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_export_errors_name_the_problem(tiny_runs, tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "nowhere" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="config.json"):
        ImgTune.from_pretrained(str(tmp_path))
