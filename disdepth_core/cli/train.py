"""Train a student: ``disdepth train --config CFG`` (same options as ``python -m training.train``)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of python -m training.train (see --config, --resume, --set)")


def run(args: argparse.Namespace) -> int:
    try:
        from training.train import main
    except ImportError as err:
        from . import UserError

        raise UserError(f"training needs the repository checkout and torch/timm installed ({err})") from None
    return main(args.args)
