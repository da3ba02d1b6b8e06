"""Release a training checkpoint as a small weights-only student: ``disdepth release``.

The same command as ``python -m training.release`` (its parser is reused as an argparse parent,
so both forms parse identically and share one exit-status mapping).
"""

from __future__ import annotations

import argparse

from .training_commands import reused_parsers, run_training_command


def parent_parsers() -> list[argparse.ArgumentParser]:
    return reused_parsers("training.release")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if not parent_parsers():  # keep the command listed; run() says what is missing
        parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return run_training_command("training.release", args)
