"""How every command-line entry point ends: one mapping from exceptions to exit statuses.

``disdepth`` and its subcommands, ``python -m training.train``, ``training.release`` and
``training.ghost_eval`` all run their body through :func:`run_entry_point`, so a user mistake
reads the same everywhere and scripts can rely on the status:

* :data:`EXIT_USER_ERROR` (2): :class:`UserError` (and its subclasses, e.g. training's
  ``TrainingError``), ``ValueError`` and ``OSError`` raised for bad input or the user's
  environment (permissions, a full disk, a file where a folder belongs): ``error: <one line>``.
* :data:`EXIT_INTERRUPTED` (130): Ctrl-C (commands that must save first catch it themselves).
* :data:`EXIT_BUG` (1): anything else is a bug; it still prints one line, naming the exception
  and how to get the traceback.

``--debug`` or ``DISDEPTH_DEBUG=1`` re-raises every error with its traceback for bug reports.
Imports nothing heavy: the node's machines run it without torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Optional

from .errors_text import one_line

DEBUG_ENV = "DISDEPTH_DEBUG"
EXIT_OK = 0
EXIT_BUG = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error caused by the user's input or environment; printed as one line, exit status 2."""


# What counts as the user's mistake rather than a bug (library code raises ValueError/OSError
# for bad input; OSError covers permissions, full disks and missing files).
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, OSError)


def debug_requested(argv: Sequence[str]) -> bool:
    """True for ``--debug`` anywhere on the command line or a truthy ``DISDEPTH_DEBUG``."""
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def run_entry_point(body: Callable[[], Optional[int]], debug: bool = False, interrupted: str = "interrupted") -> int:
    """Run ``body`` and turn its outcome into an exit status (see the module docstring).

    ``interrupted`` is the line printed on Ctrl-C (empty: print nothing, for commands that
    already said what they saved).
    """
    try:
        return int(body() or EXIT_OK)
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as err:  # noqa: BLE001 - the safety net: a bug still gets one readable line
        if debug:
            raise
        print(f"error: unexpected {type(err).__name__}: {one_line(err, limit=300)} "
              f"(a bug: rerun with --debug or {DEBUG_ENV}=1 for the full traceback and include it in the report)",
              file=sys.stderr)
        return EXIT_BUG
