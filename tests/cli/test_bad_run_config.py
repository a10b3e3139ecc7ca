"""A bad run config is one line on stderr (the key and the valid choices), no traceback,
through the console entry point ``mmf_run`` (``main()`` with captured stderr)."""

import logging
import sys

import pytest

from mmf_imgtune.cli.run import main

TOY = ["model=toy_classifier", "dataset=toy", "training.progress_bar=false"]
CASES = {
    "precision": (["training.precision=bf17"], ["training.precision=bf17", "bf16-true", "32"]),
    "strategy": (["training.strategy=horovod"], ["training.strategy=horovod", "ddp, fsdp"]),
    "deepspeed": (["training.strategy=deepspeed_stage_2"], ["not supported", "strategy=fsdp"]),
    "batch split": (
        ["training.devices=2", "training.strategy=ddp", "training.accelerator=cpu"]
        + ["training.batch_size=7"],
        ["training.batch_size=7", "2 processes", "multiple of 2"],
    ),
    "scheduler": (
        ["training.lr_scheduler=true", "scheduler.type=cosine"],
        ["scheduler.type 'cosine'", "warmup_cosine"],
    ),
    "optimizer": (["optimizer.type=adamx"], ["optimizer.type 'adamx'", "adam_w"]),
    "model key": (
        ["model=imgtune", "model_config.imgtune.fusion=late"],
        ["model_config.imgtune", "fusion='late'", "prefix"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_is_one_line(name, monkeypatch, capsys):
    overrides, expected = CASES[name]
    monkeypatch.setattr(sys, "argv", ["mmf_run", *TOY, *overrides])
    monkeypatch.delenv("MMF_TRACEBACK", raising=False)
    # Lightning's log handler keeps the stderr of the test that first imported it (closed by
    # now under capsys); a console process has one stderr throughout.
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler:
                monkeypatch.setattr(handler, "stream", sys.stderr)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("mmf_run:")]
    assert len(lines) == 2 and lines[1] == "mmf_run: (set MMF_TRACEBACK=1 to see the traceback)"
    assert lines[0].startswith("mmf_run: error: ")
    for part in expected:
        assert part in lines[0], (part, lines[0])
