"""The subcommands that are also ``python -m training.<module>`` commands (train, release, ghost-eval).

Each training module has ``build_parser()`` and ``run(args)``; the ``disdepth`` subcommand reuses
the parser as an argparse parent and calls the same ``run``, so both forms accept the same
options and end through the same exit-status mapping. Without the training package (a robot
with only the runtime installed) the subcommand stays listed and says what is missing.
"""

from __future__ import annotations

import argparse
import importlib
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
