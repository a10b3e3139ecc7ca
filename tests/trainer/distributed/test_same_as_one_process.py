"""Two processes at a global batch B end where one process at B ends: DDP through Lightning's
launcher, DDP across two torchrun "nodes" on the loopback, and FSDP (gloo, CPU), with gradient
accumulation, clipping that bites, warm-up and LoRA; then FSDP's sharded checkpoint resumes
exactly and serves mmf_predict, as a folder and consolidated into one file.

Tolerance: the processes sum float32 gradients in another order (an all-reduce of two halves
instead of one batch), so weights agree to a few float32 ulps, not bit for bit. We measured a
largest difference of 1.2e-7 after 6 updates; we allow 1e-5, and check that it is far below how
far the weights move (a wrong split, a missed accumulation step or unclipped gradients move
them by ~1e-3 per update at lr 1e-3).
"""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from dist_helpers import free_port

from mmf_imgtune.cli.consolidate import main as consolidate_main
from mmf_imgtune.cli.run import predict, run
from mmf_imgtune.trainer.checkpoint_io import consolidate
from mmf_imgtune.utils.testing import REPO_ROOT, assert_same_weights, checkpoint_weights, run_cli

pytestmark = pytest.mark.slow

WEIGHT_ATOL = 1e-5
MAX_GRAD_NORM = 0.05
CONFIG = f"""
includes: [projects/imgtune/configs/shapes/caption.yaml]
model_config:
  imgtune:
    fusion: both
    lm_training: lora
    lm:
      config: {{model_type: llama, vocab_size: 96, hidden_size: 32, intermediate_size: 64,
               num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
               max_position_embeddings: 128}}
      lora: {{r: 4, alpha: 8, dropout: 0.0}}
    region_encoder: {{projector_hidden_dim: 64}}
    generation: {{max_new_tokens: 3}}
dataset_config:
  shapes:
    sizes: {{train: 32, val: 8, test: 8}}
    image_size: 64
    feature_extraction: {{min_size: 64, max_size: 64}}
    processors:
      text_processor:
        params: {{max_seq_length: 24}}
training:
  max_updates: 6
  batch_size: 8
  update_frequency: 2
  clip_gradients: true
  max_grad_l2_norm: {MAX_GRAD_NORM}
  lr_scheduler: true
  log_interval: 1
  evaluation_interval: 6
  checkpoint_interval: 3
  progress_bar: false
scheduler: {{params: {{num_warmup_steps: 2}}}}
run_type: train_val
"""
TWO_CPU_PROCESSES = ["training.accelerator=cpu", "training.strategy=ddp"]


@pytest.fixture(scope="module")
def common(tmp_path_factory):
    folder = tmp_path_factory.mktemp("same_as_one")
    (folder / "run.yaml").write_text(CONFIG)
    return folder, [f"config={folder / 'run.yaml'}", f"env.data_dir={folder / 'data'}"]


@pytest.fixture(scope="module")
def single(common):
    """The reference: one process at the global batch (it also generates the data)."""
    folder, args = common
    result = run([*args, f"env.save_dir={folder / 'single'}"])
    assert result["num_updates"] == 6
    return folder / "single"


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _weights(save_dir):
    path = save_dir / "current.ckpt"
    return consolidate(path)["state_dict"] if path.is_dir() else checkpoint_weights(path)


def _assert_same_run(single, other):
    a, b = _weights(single), _weights(other)
    assert a.keys() == b.keys()
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert worst <= WEIGHT_ATOL, f"weights differ by {worst:.3g} > {WEIGHT_ATOL}"
    start = checkpoint_weights(single / "models" / "model_3.ckpt")
    moved = max((a[k].double() - start[k].double()).abs().max().item() for k in a)
    assert moved > 100 * WEIGHT_ATOL, "the tolerance is not small next to 3 updates' steps"
    metrics_a = json.loads((single / "metrics.json").read_text())["metrics"]
    metrics_b = json.loads((other / "metrics.json").read_text())["metrics"]
    assert metrics_a.keys() == metrics_b.keys()
    for key in metrics_a:
        assert metrics_b[key] == pytest.approx(metrics_a[key], rel=1e-4, abs=1e-6), key


def test_the_reference_run_clips(single):
    """Clipping is active at every update (else the check below would not cover it)."""
    with open(single / "logs" / "csv" / "metrics.csv", newline="") as handle:
        norms = [
            float(r["train/grad_norm"]) for r in csv.DictReader(handle) if r["train/grad_norm"]
        ]
    assert len(norms) == 6 and min(norms) > MAX_GRAD_NORM, norms


def test_ddp_two_processes_match_one_process(common, single):
    folder, args = common
    save = folder / "ddp"
    _ok(run_cli([*args, "training.devices=2", *TWO_CPU_PROCESSES], save))
    _assert_same_run(single, save)


def test_torchrun_two_nodes_match_one_process(common, single):
    """``torchrun --nnodes 2 --nproc-per-node 1``, node ranks 0 and 1, rendezvous on 127.0.0.1."""
    folder, args = common
    save, port = folder / "torchrun", free_port()
    env = {**os.environ, "MMF_SAVE_DIR": str(save)}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"]
    launch += ["--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", str(port)]
    mmf_run = ["-m", "mmf_imgtune", *args, "training.num_nodes=2", *TWO_CPU_PROCESSES]
    nodes = [
        subprocess.Popen(
            [*launch, "--node-rank", str(rank), *mmf_run],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=900)[0] for node in nodes]
    for node, output in zip(nodes, outputs):
        assert node.returncode == 0, output[-4000:]
    _assert_same_run(single, save)


def test_fsdp_matches_one_process_resumes_exactly_and_predicts(common, single, tmp_path):
    folder, args = common
    fsdp = [*args, "training.devices=2", "training.accelerator=cpu", "training.strategy=fsdp"]
    save = folder / "fsdp"
    result = run_cli(fsdp, save)
    _ok(result)
    # One unit per decoder layer and per cross-attention block (2 + 2), plus the root.
    assert "FSDP: 5 units (GatedCrossAttentionBlock, LlamaDecoderLayer + root)" in result.stdout
    assert (save / "current.ckpt").is_symlink() and (save / "current.ckpt" / "meta.pt").is_file()
    _assert_same_run(single, save)

    # Exact resume from the sharded folder of update 3.
    resumed = folder / "fsdp_resumed"
    _ok(run_cli([*fsdp, f"checkpoint.resume_file={save / 'models' / 'model_3.ckpt'}"], resumed))
    assert_same_weights(_weights(save), _weights(resumed))

    # mmf_predict reads the folder (consolidated in memory) and the consolidated file alike.
    single_file = tmp_path / "model.ckpt"
    consolidate_main([str(save / "current.ckpt"), str(single_file)])
    assert_same_weights(_weights(save), checkpoint_weights(single_file))
    rows = []
    for name, checkpoint in (("folder", save / "current.ckpt"), ("file", single_file)):
        predict([*args, f"env.save_dir={tmp_path / name}", f"checkpoint.resume_file={checkpoint}"])
        report = tmp_path / name / "reports" / "shapes_imgtune_test_predictions.json"
        rows.append(json.loads(report.read_text()))
    assert rows[0] == rows[1] and len(rows[0]) == 8
    assert torch.is_tensor(next(iter(checkpoint_weights(single_file).values())))
