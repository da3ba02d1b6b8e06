"""Paper Table 5 on a distillation checkpoint: teacher, acclimated teacher (ghost decoder) and student.

The same command as ``python -m training.ghost_eval`` (its parser is reused as an argparse
parent, so both forms parse identically and share one exit-status mapping).
"""

from __future__ import annotations

from .training_commands import training_subcommand

parent_parsers, add_arguments, run = training_subcommand("training.ghost_eval")
