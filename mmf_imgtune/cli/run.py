"""``mmf_run`` and ``mmf_predict``: MMF's command line.

mmf_run config=<yaml> model=<name> dataset=<name>[,<name>] [run_type=train_val_test] [a.b=v ...]
mmf_predict config=<yaml> model=<name> dataset=<name> checkpoint.resume_file=<ckpt>
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Sequence

from mmf_imgtune.config import ConfigError, build_config
from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.registry import RegistryError

HELP = """usage: mmf_run config=<yaml> model=<name> dataset=<name>[,<name>...] [key=value ...]

Options (MMF's):
  config=PATH                experiment yaml (may use includes: [...])
  model=NAME                 registered model, e.g. imgtune, toy_classifier, mmbt
  dataset=A[,B]              registered datasets (datasets= also works)
  run_type=train_val_test    phases by substring: train, val, test/inference/predict

Common keys (any key of configs/defaults.yaml or the model/dataset defaults works):
  training.max_updates=N     optimizer steps         training.batch_size=N   global batch
  training.update_frequency  gradient accumulation   training.num_workers=N  loader workers
  training.evaluation_interval / checkpoint_interval / log_interval (in updates)
  training.devices=N training.num_nodes=N training.strategy=auto|ddp|fsdp
  training.precision=auto|32|bf16-mixed|16-mixed|bf16-true (aliases: bf16, 16, 64, ...)
  training.cpu_threads=N     torch threads per process (default: cores / processes)
  training.compile=true      torch.compile the model (pays back only in long runs)
  training.seed=N            optimizer.type=adam_w   optimizer.params.lr=5e-5
  training.lr_scheduler=true scheduler.type=warmup_linear|warmup_cosine
  training.early_stop.enabled=true training.early_stop.criteria=<dataset>/<metric>
  evaluation.metrics=[accuracy,roc_auc]              evaluation.predict=true
  checkpoint.resume=true | checkpoint.resume_file=PATH | checkpoint.resume_best=true
  env.save_dir=DIR env.data_dir=DIR env.user_dir=PLUGIN_FOLDER

Unknown keys fail with the closest valid keys. The resolved config is saved as
<env.save_dir>/config.yaml; metrics as <env.save_dir>/metrics.json."""


def _main(args: Sequence[str], predict: bool = False) -> dict:
    if any(a in ("-h", "--help", "help") for a in args):
        print(HELP)
        raise SystemExit(0)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # lazy: Lightning loads after --help is handled
    from mmf_imgtune.trainer import run_training

    args = list(args)
    # metrics.json keeps the command (the model card of mmf_imgtune_export quotes it).
    command = shlex.join(["mmf_predict" if predict else "mmf_run", *args])
    if predict:
        args = ["run_type=test", *args, "evaluation.predict=true"]
    try:
        config = build_config(args)
    except (ConfigError, RegistryError, FileNotFoundError) as error:
        print(f"mmf_run: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return run_training(config, command=command)


def run(args: Sequence[str] | None = None) -> dict:
    """Entry point of ``mmf_run``; returns the run's result dict when called from Python."""
    return _main(sys.argv[1:] if args is None else args)


def predict(args: Sequence[str] | None = None) -> dict:
    """Entry point of ``mmf_predict`` (``mmf_run`` with ``evaluation.predict=true``)."""
    return _main(sys.argv[1:] if args is None else args, predict=True)


def _console(entry: Callable[[], dict], name: str) -> None:
    """Our own errors (bad data, NaN loss, disk full, ...) carry the whole story in their
    message (file, line, key, update): print it without a traceback unless MMF_TRACEBACK=1."""

    try:
        entry()
    except MMFImgtuneError as error:
        if os.environ.get("MMF_TRACEBACK") == "1":
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        print(f"{name}: (set MMF_TRACEBACK=1 to see the traceback)", file=sys.stderr)
        raise SystemExit(1) from None


def main() -> None:
    """Console script ``mmf_run`` (returns nothing, so no dict is echoed)."""
    _console(run, "mmf_run")


def main_predict() -> None:
    """Console script ``mmf_predict``."""
    _console(predict, "mmf_predict")


if __name__ == "__main__":
    main()
