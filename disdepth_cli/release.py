"""Release a training checkpoint as the small weights-only student robots load.

The same command as ``python -m training.release`` (its parser is reused as an argparse parent,
so both forms parse identically and share one exit-status mapping).
"""

from __future__ import annotations

from .training_commands import training_subcommand

parent_parsers, add_arguments, run = training_subcommand("training.release")
