"""The ``disdepth`` command: one entry point, one small module per subcommand.

Subcommands register themselves in :data:`COMMANDS`; later issues (export, bench, node,
bag-eval) add a module and a line here. A :class:`UserError` (or ValueError/OSError raised by
library code for bad user input) prints ``error: ...`` and exits with status 2. Anything else is
a bug: it still prints one line (the exception type and message, and how to get the full
traceback) and exits with status 1; ``--debug`` or ``DISDEPTH_DEBUG=1`` re-raises every error
with its traceback for bug reports.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors_text import one_line  # noqa: F401 - also importable as disdepth_core.cli.one_line

DEBUG_ENV = "DISDEPTH_DEBUG"
EXIT_USER_ERROR = 2
EXIT_BUG = 1

# subcommand -> (module under disdepth_core.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("info", "parameter count, feature channels and GMACs of a model"),
    "synth": ("synth", "generate synthetic RGB-D scenes in KITTI / NYU on-disk formats"),
    "train": ("train", "train a student (same as python -m training.train)"),
    "eval": ("evaluate", "evaluate a checkpoint with the standard protocol"),
    "demo": ("demo", "the node on a synthetic camera stream (--offline: protocol metrics), pictures in outputs/"),
    "node": ("node", "run the ROS 2 depth node (same parameters YAML as ros2 launch)"),
    "export": ("export", "export a checkpoint to verified ONNX, or build a TensorRT engine"),
    "bench": ("bench", "latency percentiles, FPS and memory of a model on one or more backends"),
    "bag-eval": ("bag_eval", "evaluate a model on a rosbag2 (sqlite3/MCAP): metrics, per-frame CSV, HTML report"),
    "bag-play": ("bag_play", "publish a rosbag2's messages on live ROS 2 topics with their recorded timing"),
    "predict": ("predict", "depth PNGs, previews and point clouds for an image, a folder or a video"),
    "finetune": ("finetune", "fine-tune a model on your RGB-D recordings (rosbag2 or image folders): model.pt + report"),
}


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """Usage errors as one line that names the fix, instead of the usage block plus the error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see `{self.prog} -h`)\n")


def _debug_parent() -> argparse.ArgumentParser:
    """``--debug`` accepted after the subcommand too (SUPPRESS keeps the top-level value)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=f"show the full traceback of any error (same as {DEBUG_ENV}=1)")
    return parent


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, just that subcommand's options are built (the others are
    listed by name and help), so ``disdepth demo --frames 0`` does not import every subcommand's
    dependencies (numpy, the exporters) before saying what is wrong."""
    parser = OneLineArgumentParser(prog="disdepth", description="DisDepth: efficient monocular metric depth for robots.",
                                     epilog=f"Errors print one line; --debug or {DEBUG_ENV}=1 shows the full traceback.")
    from disdepth_core import __version__

    parser.add_argument("--version", action="version", version=f"disdepth {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"show the full traceback of any error (same as {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    debug_parent = _debug_parent()
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"disdepth_core.cli.{module_name}")
        # A module may reuse another parser's options (``train`` reuses python -m training.train's).
        parents = module.parent_parsers() if hasattr(module, "parent_parsers") else []
        sub_parser = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip().splitlines()[0],
                                    parents=[*parents, debug_parent], add_help=not parents)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(handler=module.run)
    return parser


def debug_requested(argv: list[str]) -> bool:
    """True for ``--debug`` anywhere on the command line or a truthy ``DISDEPTH_DEBUG``."""
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _command_argv(argv: list[str], command: str) -> list[str]:
    """What follows the subcommand (for subcommands that hand their arguments on), minus ``--debug``."""
    rest = argv[argv.index(command) + 1:] if command in argv else []
    return [arg for arg in rest if arg != "--debug"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    try:
        command = next((arg for arg in argv if not arg.startswith("-")), None)
        parser = build_parser(command if command in COMMANDS else None)
        args = parser.parse_args(argv)
        args.command_argv = _command_argv(argv, args.command)
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, OSError) as err:
        if debug:
            raise
        # OSError covers the user's environment (permissions, full disk, a file where a folder belongs).
        print(f"error: {one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as err:  # noqa: BLE001 - the safety net: a bug still gets one readable line
        if debug:
            raise
        print(f"error: unexpected {type(err).__name__}: {one_line(err, limit=300)} "
              f"(a bug: rerun with --debug or {DEBUG_ENV}=1 for the full traceback and include it in the report)",
              file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
