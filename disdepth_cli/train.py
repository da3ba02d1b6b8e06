"""Train a student: ``disdepth train --config CFG`` (same options as ``python -m training.train``).

The options are those of ``training.train``'s own parser (reused as an argparse parent), so
``disdepth train -h`` documents exactly what is accepted and both commands parse identically.
"""

from __future__ import annotations

import argparse

from .training_commands import training_subcommand


def _check_files(args: argparse.Namespace) -> None:
    """The same checks training does, but before torch and the dataset load: a typo costs a second."""
    from .files import require_file

    require_file(args.config, "config file")
    if args.resume not in (None, "auto"):
        require_file(args.resume, "checkpoint")


parent_parsers, add_arguments, run = training_subcommand("training.train", precheck=_check_files)
