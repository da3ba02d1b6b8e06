"""Paper Table 5 on a distillation checkpoint: ``disdepth ghost-eval``.

The same command as ``python -m training.ghost_eval`` (its parser is reused as an argparse
parent, so both forms parse identically and share one exit-status mapping).
"""

from __future__ import annotations

import argparse

from .training_commands import reused_parsers, run_training_command


def parent_parsers() -> list[argparse.ArgumentParser]:
    return reused_parsers("training.ghost_eval")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if not parent_parsers():  # keep the command listed; run() says what is missing
        parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return run_training_command("training.ghost_eval", args)
