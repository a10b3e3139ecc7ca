"""Optimizers and schedulers are registered components built from the run config."""

import pytest
import torch

from mmf_imgtune.config import build_config
from mmf_imgtune.config.checks import ConfigError
from mmf_imgtune.trainer.optim import build_optimizer, build_scheduler, check_optimization

TOY = ["model=toy_classifier", "dataset=toy"]


def _lrs(config, steps):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = build_scheduler(optimizer, config)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize(
    "kind, expected",
    [("warmup_linear", [0.5, 1.0, 1.0, 0.5, 0.0]), ("constant", [1.0] * 5)],
)
def test_built_in_schedulers_follow_their_formula(kind, expected):
    # 2 warm-up updates of 4 (num_training_steps null: training.max_updates).
    config = build_config([*TOY, "training.lr_scheduler=true", f"scheduler.type={kind}",
                           "scheduler.params.num_warmup_steps=2", "training.max_updates=4"])  # fmt: skip
    assert _lrs(config, 5) == pytest.approx(expected)


def test_optimizer_by_mmf_alias_and_any_case():
    model = torch.nn.Linear(2, 1)
    model.get_optimizer_parameters = lambda config: model.parameters()
    for name in ("adam_w", "ADAMW", "AdamW"):
        config = build_config([*TOY, f"optimizer.type={name}", "optimizer.params.lr=0.25"])
        optimizer = build_optimizer(model, config)
        assert type(optimizer) is torch.optim.AdamW and optimizer.defaults["lr"] == 0.25
    with pytest.raises(ConfigError, match="optimizer.type 'adamx' is neither registered"):
        check_optimization(build_config([*TOY, "optimizer.type=adamx"]))
