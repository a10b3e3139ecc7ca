"""The DDP model matrix: every model/task/fusion/regime, two gloo processes, one launch
(and the planted defects in a launch of their own).

``matrix_worker`` runs in each of two processes (``torch.multiprocessing``) and, for every case,
builds the model, wraps a copy in ``DistributedDataParallel`` exactly as Lightning does
(``find_unused_parameters=False``), trains it two steps on its half of a batch, and checks:

- the gradient DDP averaged over the two halves equals the gradient of the untouched copy on
  the whole batch in one process (the loss of the global batch, not of each half);
- every trainable parameter got a gradient (else DDP fails at the next step, as it did);
- the second step runs (where the unused-parameter error appears).

Dropout is set to 0: two processes draw other masks than one, by design. Each case's result is
a string: ``ok`` or what failed.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import socket
import sys
from datetime import timedelta
from typing import Any

import torch

# Gradients: float32 sums in another order (all-reduce of halves vs one batch): the relative
# error of a sum of n float32 terms is about n * 6e-8; our tiny models stay far below 1e-4.
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-6
IMGTUNE_TASKS = ("generation", "vqa_classification", "binary", "retrieval")
FUSIONS = ("prefix", "cross_attention", "both")
REGIMES = ("frozen", "lora", "full")
BASELINES = ("unimodal_text", "unimodal_image", "late_fusion", "concat_bert", "mmbt", "visual_bert")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _imgtune_case(task: str, fusion: str, lm_training: str, **extra) -> dict:
    return {"kind": "imgtune", "task": task, "fusion": fusion, "lm_training": lm_training, **extra}


def all_cases() -> list[dict]:
    cases = [_imgtune_case(t, f, r) for t in IMGTUNE_TASKS for f in FUSIONS for r in REGIMES]
    # GPT-2 ties its LM head to the input embeddings: the head must stay trainable there.
    cases.append(_imgtune_case("binary", "both", "full", lm="gpt2"))
    cases.append(_imgtune_case("generation", "prefix", "full", resampler=True))
    # Multi-class head (num_labels=3, class-id targets).
    cases.append(_imgtune_case("classification", "prefix", "lora"))
    cases += [{"kind": "baseline", "name": name} for name in BASELINES]
    # BatchNorm keeps per-rank statistics (as in MMF): checked for running, not for equality.
    cases.append({"kind": "baseline", "name": "unimodal_image", "grid": True, "exact": False})
    cases.append({"kind": "butd"})
    return cases


def control_cases() -> list[dict]:
    """Planted defects the check must report: the bug this matrix guards against (a
    trainable LM head that never runs: DDP fails at step 2) and retrieval contrasting each
    rank's half alone (a gradient that differs). Run in their own launch: a DDP failure leaves
    its reducer mid-iteration, which must not share a process group with the real cases."""
    return [
        _imgtune_case("binary", "prefix", "full", control="lm_head"),
        _imgtune_case("retrieval", "prefix", "full", control="local_negatives"),
    ]


def case_name(case: dict) -> str:
    """e.g. ``retrieval-both-lora``, ``unimodal_image-grid``, ``butd``."""
    parts = [k if v is True else str(v) for k, v in case.items() if k not in ("kind", "exact")]
    return "-".join(parts) or case["kind"]


def slice_batch(batch: Any, lo: int, hi: int) -> Any:
    """Rows lo:hi of a SampleList (tensors, lists and nested SampleLists alike)."""
    from mmf_imgtune.common.sample import SampleList

    part = SampleList()
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            part[key] = value[lo:hi]
        elif isinstance(value, dict):
            part[key] = slice_batch(value, lo, hi)
        elif isinstance(value, list):
            part[key] = value[lo:hi]
        else:
            part[key] = value
    return part


def _imgtune(case: dict):
    from imgtune_helpers import build, make_batch

    task = case["task"]
    overrides = {"task": task, "fusion": case["fusion"], "lm_training": case["lm_training"]}
    overrides["num_answers"] = 2
    overrides["num_labels"] = 3
    if case.get("resampler"):
        overrides["region_encoder.resampler.enabled"] = True
    model = build(case.get("lm", "llama"), **overrides)
    batch = make_batch(with_answer=task == "generation", distinct=task == "retrieval")
    if task == "binary":
        batch.targets = batch.targets.argmax(dim=1)
    if task == "classification":
        batch.targets = torch.arange(batch.targets.size(0)) % 3
    if task == "generation":
        # Unequal answer-token counts on the two halves: the loss is a mean over all tokens.
        for row in range(4, 8):
            scored = (batch.labels[row] != -100).nonzero().view(-1)
            batch.labels[row, scored[-1]] = -100
    return model, batch


def _baseline(case: dict):
    from baseline_helpers import TINY_BERT, build, synthetic_batch

    from mmf_imgtune.common.sample import SampleList

    # Attention dropout is read from the config when BERT is built; hidden dropout is set to
    # 0 with every nn.Dropout in build_case.
    bert = {**TINY_BERT, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    overrides = {"bert": {"config": bert}} if case["name"] != "unimodal_image" else {}
    if case.get("grid"):
        overrides["image_encoder"] = {"type": "grid"}
    torch.manual_seed(0)
    model = build(case["name"], **overrides)
    # synthetic_batch has 4 rows; the matrix needs 8 (4 per rank).
    a, b = synthetic_batch(seed=0), synthetic_batch(seed=1)
    batch = SampleList({k: _cat(a[k], b[k]) for k in a.keys()})
    return model, batch


def _cat(a: Any, b: Any) -> Any:
    from mmf_imgtune.common.sample import SampleList

    if isinstance(a, torch.Tensor):
        return torch.cat([a, b])
    if isinstance(a, dict):
        return SampleList({k: _cat(a[k], b[k]) for k in a})
    return a


def _butd():
    from baseline_helpers import DIM, REGIONS

    from mmf_imgtune.common.sample import SampleList
    from mmf_imgtune.data.processors.text import TextTokenizerProcessor
    from mmf_imgtune.models.baselines.butd import BUTD

    words = ["a", "red", "blue", "circle", "square", "left", "right"]
    tokenizer = {"word_level": {"words": words}}
    config = {
        "tokenizer": tokenizer,
        "image_encoder": {"type": "region", "feature_dim": DIM, "use_boxes": False},
        "embed_dim": 16,
        "hidden_size": 32,
        "attention_dim": 16,
        "dropout": 0.0,
        "max_caption_length": 8,
        "losses": [],
    }
    torch.manual_seed(0)
    model = BUTD(config).init_from_config()
    processor = TextTokenizerProcessor({"tokenizer": tokenizer, "max_seq_length": 8})
    captions = ["a red circle left", "a blue square right", "a circle", "red"] * 2
    captions[4:] = ["a red circle left right", "blue", "a square", "left"]
    samples = [processor({"text": text}) for text in captions]
    batch = SampleList([{k: v for k, v in s.items() if k != "text"} for s in samples])
    batch.image_feature_0 = torch.randn(8, REGIONS, DIM, generator=torch.Generator().manual_seed(0))
    batch.image_info_0 = {"num_boxes": torch.tensor([REGIONS, 2, 3, 1] * 2)}
    batch.dataset_name, batch.dataset_type = "synthetic", "train"
    return model, batch


def build_case(case: dict):
    """(model in train mode with dropout 0, 8-row batch)."""
    model, batch = {"imgtune": _imgtune, "baseline": _baseline, "butd": lambda c: _butd()}[
        case["kind"]
    ](case)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model.train(), batch


def _loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    return sum(value.mean() for value in model(batch)["losses"].values())


def check_case(case: dict, rank: int, world: int) -> str:
    from torch.nn.parallel import DistributedDataParallel

    model, batch = build_case(case)
    if case.get("control") == "lm_head":
        model.lm.get_output_embeddings().weight.requires_grad_(True)
    reference = copy.deepcopy(model)
    if case.get("control") == "local_negatives":
        forward = model.head.forward
        model.head.forward = lambda image, text, across_ranks=False: forward(image, text, False)
    ddp = DistributedDataParallel(model, find_unused_parameters=False)
    rows = batch["input_ids"].size(0) // world
    local = slice_batch(batch, rank * rows, (rank + 1) * rows)
    _loss(ddp, local).backward()
    _loss(reference, batch).backward()
    problems = []
    for (name, param), ref in zip(model.named_parameters(), reference.parameters()):
        if not param.requires_grad:
            continue
        if ref.grad is None:
            problems.append(f"{name} gets no gradient")
        elif case.get("exact", True) and not torch.allclose(
            param.grad, ref.grad, rtol=GRAD_RTOL, atol=GRAD_ATOL
        ):
            diff = (param.grad - ref.grad).abs().max().item()
            problems.append(f"{name}: DDP gradient differs from one process by {diff:.3g}")
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    optimizer.step()
    optimizer.zero_grad()
    _loss(ddp, local).backward()  # DDP reports unused parameters of step 1 here
    return "ok" if not problems else "; ".join(problems[:4])


def matrix_worker(rank: int, world: int, port: int, cases: list[dict], out_dir: str) -> None:
    """Checks every case in this process (one of ``world``), writes ``rank<r>.json`` and ends
    the process.

    Why the ending is explicit: once a DDP wrapper has been built, torch keeps the gloo
    process group, and with it gloo's worker threads, alive after ``destroy_process_group``
    (measured with torch 2.14: the group object survives the call and a full collection). A
    worker thread drops the last reference to a finished collective (here the last DDP
    all-reduce) after the waiting side has moved on, and that work's saved thread-local state
    holds a Python object, so dropping it takes the GIL. If the interpreter is finalizing by
    then, CPython ends that thread inside a noexcept destructor: std::terminate, "terminate
    called without an active exception", SIGABRT (one run in ten; seen in a core dump). So
    both ranks meet at a barrier (neither tears down while the other still communicates),
    destroy the group, flush, and leave with ``os._exit(0)`` instead of finalizing an
    interpreter that gloo's threads may still call into. An exception still propagates (the
    launch then reports it) and each case's DDP wrapper is collected before the next case, so
    a failed case's half-finished reducer never outlives it.
    """
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    # A short timeout: a case that leaves one rank waiting fails the test instead of hanging.
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=120))
    results = {}
    try:
        for case in cases:
            try:
                results[case_name(case)] = check_case(case, rank, world)
            except Exception as error:  # reported per case; the next case still runs
                results[case_name(case)] = f"{type(error).__name__}: {str(error)[:300]}"
                dist.barrier()  # a failed collective leaves the peer waiting at most here
            # DDP modules sit in reference cycles (hooks hold the module): free them now.
            gc.collect()
        dist.barrier()
    finally:
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
            json.dump(results, handle, indent=1)
        dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
