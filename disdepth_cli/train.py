"""Train a student: ``disdepth train --config CFG`` (same options as ``python -m training.train``).

The options are those of ``training.train``'s own parser (reused as an argparse parent), so
``disdepth train -h`` documents exactly what is accepted and both commands parse identically.
"""

from __future__ import annotations

import argparse

from .training_commands import reused_parsers, run_training_command


def parent_parsers() -> list[argparse.ArgumentParser]:
    return reused_parsers("training.train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if not parent_parsers():  # keep `disdepth train` listed; run() says what is missing
        parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from .files import require_file

    # The same checks training does, but before torch and the dataset load: a typo costs a second.
    if hasattr(args, "config"):
        require_file(args.config, "config file")
        if args.resume not in (None, "auto"):
            require_file(args.resume, "checkpoint")
    return run_training_command("training.train", args)
