"""``run_type`` is read by substring, as in MMF: ``train_val_test``, ``val``, ``inference``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunPhases:
    train: bool
    val: bool
    test: bool

    @classmethod
    def parse(cls, run_type: str) -> RunPhases:
        run_type = str(run_type)
        phases = cls(
            train="train" in run_type,
            val="val" in run_type,
            test=any(word in run_type for word in ("test", "inference", "predict")),
        )
        if not (phases.train or phases.val or phases.test):
            raise ValueError(
                f"run_type '{run_type}' names no phase; use words train, val and/or test, "
                "e.g. run_type=train_val_test"
            )
        return phases
