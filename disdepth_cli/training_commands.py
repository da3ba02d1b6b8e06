"""The subcommands that are also ``python -m training.<module>`` commands (train, release, ghost-eval).

Each training module has ``build_parser()`` and ``run(args)``; the ``disdepth`` subcommand reuses
the parser as an argparse parent and calls the same ``run``, so both forms accept the same
options and end through the same exit-status mapping. Without the training package (a robot
with only the runtime installed) the subcommand stays listed and says what is missing.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Optional

from disdepth_core.entry_point import UserError


def _training_module(module_name: str) -> Optional[ModuleType]:
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None


def reused_parsers(module_name: str) -> list[argparse.ArgumentParser]:
    """``python -m <module_name>``'s parser; none when the training package is not installed."""
    module = _training_module(module_name)
    return [module.build_parser()] if module is not None else []


def run_training_command(module_name: str, args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise UserError(f"this command needs the repository checkout and torch/timm installed ({err})") from None
    return int(module.run(args) or 0)


def training_subcommand(module_name: str, precheck: Optional[Callable[[argparse.Namespace], None]] = None):
    """``(parent_parsers, add_arguments, run)`` of the subcommand that is ``python -m <module_name>``.

    ``precheck`` runs before the training module's ``run`` (e.g. a missing config file reported
    before torch and the dataset load).
    """

    def parent_parsers() -> list[argparse.ArgumentParser]:
        return reused_parsers(module_name)

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        if not parent_parsers():  # keep the command listed; run() says what is missing
            parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(args: argparse.Namespace) -> int:
        if precheck is not None and parent_parsers():
            precheck(args)
        return run_training_command(module_name, args)

    return parent_parsers, add_arguments, run
