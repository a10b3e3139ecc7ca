"""A SIGKILL half-way, then a resume, ends where an uninterrupted run ends: bit for bit.

The runtime's own case (a plugin MLP) is in tests/trainer/test_mmf_run.py; here the same
holds for ImgTune with LoRA adapters (peft, dropout in the adapters and the fusion layers)
and for a benchmark suite whose run is killed in the middle.
"""

import csv
import json

import pytest

from mmf_imgtune.cli.bench import main as bench_main
from mmf_imgtune.utils.testing import assert_same_weights, checkpoint_weights, run_cli

pytestmark = pytest.mark.slow

IMGTUNE_LORA = """
model_config:
  imgtune:
    task: generation
    fusion: both
    lm_training: lora
    dropout: 0.1
    tokenizer: ${dataset_config.shapes.processors.text_processor.params.tokenizer}
    lm:
      config: {model_type: llama, vocab_size: 96, hidden_size: 32, intermediate_size: 64,
               num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
               max_position_embeddings: 128}
      lora: {r: 4, alpha: 8, dropout: 0.1}
    region_encoder: {feature_dim: 1280, projector_hidden_dim: 64}
    generation: {max_new_tokens: 2}
dataset_config:
  shapes:
    sizes: {train: 48, val: 8, test: 8}
    processors:
      text_processor:
        type: llm_prompt
        params: {max_seq_length: 24, prompt_template: "question: {text} answer:"}
evaluation:
  metrics: [generation_vqa_accuracy]
"""


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _logged(save_dir, skip=("train/samples_per_s",)):
    """The CSV log without wall-clock figures: what a resumed run must reproduce exactly."""
    with open(save_dir / "logs" / "csv" / "metrics.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k not in skip} for row in csv.DictReader(handle)]


def test_imgtune_lora_resume_after_sigkill_is_bit_exact(tmp_path, plugin_dir):
    (tmp_path / "lora.yaml").write_text(IMGTUNE_LORA)
    common = [
        f"config={tmp_path / 'lora.yaml'}",
        "model=imgtune",
        "dataset=shapes",
        "run_type=train_val",
        f"env.user_dir={plugin_dir}",
        f"env.data_dir={tmp_path / 'data'}",
        "training.max_updates=10",
        "training.batch_size=8",
        "training.checkpoint_interval=4",
        "training.evaluation_interval=5",
        "training.log_interval=1",
        "training.progress_bar=false",
        "training.lr_scheduler=true",
        "scheduler.params.num_warmup_steps=3",
    ]
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    _ok(run_cli(common, straight))
    killed = run_cli(
        [*common, "training.callbacks=[{type: kill_after, params: {update: 7}}]"], crashed
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (crashed / "models" / "model_4.ckpt").is_file()
    assert not (crashed / "metrics.json").exists()
    _ok(run_cli([*common, "checkpoint.resume=true"], crashed))

    a, b = (
        checkpoint_weights(straight / "current.ckpt"),
        checkpoint_weights(crashed / "current.ckpt"),
    )
    assert any("lora_A" in key for key in a), "no LoRA adapters in the checkpoint"
    assert_same_weights(a, b)
    result_a = json.loads((straight / "metrics.json").read_text())
    result_b = json.loads((crashed / "metrics.json").read_text())
    assert result_a["metrics"] == result_b["metrics"] and result_b["num_updates"] == 10
    # The log keeps the updates before the crash and has each update once.
    assert _logged(straight) == _logged(crashed)


SUITE = """
name: resume
dataset: toy
main_metric: toy/accuracy
budget: {max_updates: 12, batch_size: 8, evaluation_interval: 4}
seeds: [5]
overrides:
  - training.log_interval=1
  - "dataset_config.toy.sizes={train: 64, val: 32, test: 32}"
  - env.user_dir=PLUGIN
  - "training.callbacks=[{type: kill_after, params: {update: 10, once_file: ONCE}}]"
models:
  - {model: concat_bert, config: projects/baselines/configs/toy/concat_bert.yaml}
"""


def _suite(tmp_path, plugin_dir, once_file):
    path = tmp_path / f"suite_{once_file.name}.yaml"
    path.write_text(SUITE.replace("PLUGIN", str(plugin_dir)).replace("ONCE", str(once_file)))
    return path


def test_bench_resumes_a_killed_run_from_its_checkpoint(tmp_path, plugin_dir, capsys):
    never = tmp_path / "never"
    never.touch()  # the kill callback fires only if its file is missing: not in this suite
    straight = tmp_path / "straight"
    bench_main(["--suite", str(_suite(tmp_path, plugin_dir, never)), "--out", str(straight)])

    crashed = tmp_path / "crashed"
    args = ["--suite", str(_suite(tmp_path, plugin_dir, tmp_path / "once")), "--out", str(crashed)]
    with pytest.raises(SystemExit):  # exit status 1: a run failed
        bench_main(args)
    first = capsys.readouterr().out
    assert "concat_bert seed 5: FAILED (-9): killed by SIGKILL; run the bench again" in first
    run = crashed / "runs" / "concat_bert" / "seed_5"
    assert (run / "save" / "current.ckpt").is_file() and not (run / "result.json").exists()

    bench_main(args)
    second = capsys.readouterr().out
    assert "concat_bert seed 5: done (resumed from update 8)" in second
    assert_same_weights(
        checkpoint_weights(straight / "runs" / "concat_bert" / "seed_5" / "save" / "current.ckpt"),
        checkpoint_weights(run / "save" / "current.ckpt"),
    )
    results_a = json.loads((straight / "results.json").read_text())["models"]["concat_bert"]
    results_b = json.loads((crashed / "results.json").read_text())["models"]["concat_bert"]
    run_a, run_b = results_a["runs"]["5"], results_b["runs"]["5"]
    assert run_a["metrics"] == run_b["metrics"]
    assert run_a["curve"] == run_b["curve"] and [u for u, _ in run_b["curve"]] == [4, 8, 12]
    assert run_b["resumed_from_update"] == 8 and run_a["resumed_from_update"] is None
    table = (crashed / "results.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| concat_bert |"))
    assert "* |" in row and "train time counts only the part after the resume" in table


def test_bench_discards_a_partial_run_made_with_other_arguments(tmp_path, plugin_dir, capsys):
    out = tmp_path / "out"
    suite = _suite(tmp_path, plugin_dir, tmp_path / "once")
    with pytest.raises(SystemExit):
        bench_main(["--suite", str(suite), "--out", str(out)])
    assert "FAILED (-9)" in capsys.readouterr().out
    # The user changes the budget before rerunning: the old checkpoint must not be resumed.
    suite.write_text(suite.read_text().replace("max_updates: 12", "max_updates: 8"))
    bench_main(["--suite", str(suite), "--out", str(out)])
    second = capsys.readouterr().out
    assert "concat_bert seed 5: done," in second and "resumed" not in second
    result = json.loads((out / "runs" / "concat_bert" / "seed_5" / "result.json").read_text())
    assert result["num_updates"] == 8 and result["resumed_from_update"] is None
