"""Command-line options passed straight through to a Python API as keyword arguments.

Options the user does not give are not passed (``argparse.SUPPRESS``), so the API's own
defaults stay the only defaults.
"""

from __future__ import annotations

import argparse

from mmf_imgtune.utils.hardware import set_cpu_threads


def add_passthrough_options(cli: argparse.ArgumentParser, options: dict) -> None:
    """Add ``--flag-name`` for every ``{name: (type, help)}``, plus ``--no-progress`` and
    ``--threads`` (torch CPU threads, consumed by ``apply_threads``)."""
    for name, (kind, text) in options.items():
        flag = "--" + name.replace("_", "-")
        cli.add_argument(flag, dest=name, type=kind, help=text, default=argparse.SUPPRESS)
    cli.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        default=argparse.SUPPRESS,
        help="no progress bar",
    )
    cli.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def apply_threads(args: dict) -> None:
    """Pop ``threads`` from parsed options and set torch's CPU threads: the given number, else
    every usable core (this process runs alone); the choice is printed once."""
    set_cpu_threads(1, args.pop("threads"), who="--threads")
