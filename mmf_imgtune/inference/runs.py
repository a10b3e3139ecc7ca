"""Open a trained run for serving: ``load_run`` with errors a user can act on.

``mmf_imgtune.trainer.load_run`` opens a finished run (``mmf_predict`` uses it too); this
module adds what serving needs on top: one error type for every user-facing problem of
the serving commands (``InferenceError``: the command line prints it and exits 2, the web
page answers it as a 400), the check that the checkpoint generates text, and the data
set's processors that format a prompt or a conversation the way training did.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from omegaconf import DictConfig

from mmf_imgtune.data.conversation import ChatRenderer
from mmf_imgtune.data.processors.base import build_processor
from mmf_imgtune.errors import MMFImgtuneError
from mmf_imgtune.trainer.load_run import LoadedRun, MissingConfigError, RunLoadError, load_run


class InferenceError(MMFImgtuneError, ValueError):
    """A user-facing problem (missing file, mismatched features, wrong kind of checkpoint);
    the message names it. Commands print it and exit with code 2."""


def open_run(
    checkpoint: str | os.PathLike,
    device: str | torch.device = "cpu",
    config: str | os.PathLike | None = None,
) -> LoadedRun:
    """``load_run`` of a checkpoint (or run folder) and an optional config.yaml.

    Raises:
        InferenceError: the folder, config.yaml or checkpoint is missing (named).
    """
    try:
        return load_run(checkpoint, device, config=config)
    except MissingConfigError as error:
        raise InferenceError(f"{error}: --config <save_dir>/config.yaml") from None
    except RunLoadError as error:
        raise InferenceError(str(error)) from None


def open_generating_run(
    checkpoint: str | os.PathLike,
    device: str | torch.device = "cpu",
    config: str | os.PathLike | None = None,
) -> LoadedRun:
    """``open_run`` of a checkpoint that generates text (``task: generation``)."""
    run = open_run(checkpoint, device, config)
    if run.config.model_config[run.config.model].get("task", "generation") != "generation":
        raise InferenceError(
            f"{checkpoint}: model_config.{run.config.model}.task is not "
            "'generation'; only text-generating checkpoints can answer prompts"
        )
    return run


def required_processor(run: LoadedRun, kind: str) -> Any:
    """The run's processor of registered type ``kind``; a run without one cannot serve."""
    processor = run.processor(kind)
    if processor is None:
        raise InferenceError(
            f"dataset_config.{run.dataset}.processors has no {kind} processor; "
            "the checkpoint was not trained to generate text from such inputs"
        )
    return processor


def chat_renderer(config: DictConfig) -> ChatRenderer:
    """The ``ChatRenderer`` of the run's first data set's chat_prompt processor.

    Raises:
        InferenceError: the run was not trained on dialogues.
    """
    dataset = str(config.datasets[0])
    for spec in (config.dataset_config[dataset].get("processors") or {}).values():
        if spec is not None and spec.get("type") == "chat_prompt":
            return build_processor(spec).renderer
    raise InferenceError(
        f"dataset_config.{dataset}.processors has no chat_prompt processor: the checkpoint "
        "was not trained on dialogues (train with task: dialogue / conversations)"
    )
