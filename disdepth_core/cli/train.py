"""Train a student: ``disdepth train --config CFG`` (same options as ``python -m training.train``).

The options are those of ``training.train``'s own parser (reused as an argparse parent), so
``disdepth train -h`` documents exactly what is accepted and both commands parse identically.
"""

from __future__ import annotations

import argparse


def parent_parsers() -> list[argparse.ArgumentParser]:
    """``python -m training.train``'s parser; none when the training package is not installed."""
    try:
        from training.train import build_parser
    except ImportError:
        return []
    return [build_parser()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if not parent_parsers():  # keep `disdepth train` listed; run() says what is missing
        parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        from training.train import main
    except ImportError as err:
        from . import UserError

        raise UserError(f"training needs the repository checkout and torch/timm installed ({err})") from None
    from .files import require_file

    # The same checks training does, but before torch and the dataset load: a typo costs a second.
    require_file(args.config, "config file")
    if args.resume not in (None, "auto"):
        require_file(args.resume, "checkpoint")
    return main(args.command_argv)
