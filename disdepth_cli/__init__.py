"""The ``disdepth`` command: one entry point, one small module per subcommand.

This package is the top layer: it may import ``disdepth_core``, ``training`` and
``disdepth_ros``, and nothing imports it. A subcommand is a module with ``add_arguments(parser)``
and ``run(args)`` registered in :data:`COMMANDS`; each module imports its heavy dependencies
inside ``run`` so ``disdepth demo --frames 0`` fails in a fraction of a second. Errors end as
every entry point's do (:mod:`disdepth_core.entry_point`): a :class:`UserError` (or
ValueError/OSError raised by library code for bad user input) prints ``error: ...`` and exits
with status 2; anything else is a bug printed as one line with status 1; ``--debug`` or
``DISDEPTH_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from disdepth_core.entry_point import DEBUG_ENV, EXIT_USER_ERROR, UserError, debug_requested, run_entry_point

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]

# subcommand -> (module under disdepth_cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("info", "parameter count, feature channels and GMACs of a model"),
    "synth": ("synth", "generate synthetic RGB-D scenes in KITTI / NYU on-disk formats"),
    "train": ("train", "train a student (same as python -m training.train)"),
    "eval": ("dataset_eval", "evaluate a checkpoint with the standard protocol"),
    "demo": ("demo", "the node on a synthetic camera stream (--offline: protocol metrics), pictures in outputs/"),
    "node": ("node", "run the ROS 2 depth node (same parameters YAML as ros2 launch)"),
    "export": ("export", "export a checkpoint to verified ONNX, or build a TensorRT engine"),
    "bench": ("bench", "latency percentiles, FPS and memory of a model on one or more backends"),
    "bag-eval": ("bag_eval", "evaluate a model on a rosbag2 (sqlite3/MCAP): metrics, per-frame CSV, HTML report"),
    "bag-play": ("bag_play", "publish a rosbag2's messages on live ROS 2 topics with their recorded timing"),
    "predict": ("predict", "depth PNGs, previews and point clouds for an image, a folder or a video"),
    "release": ("release", "turn a training checkpoint into a small weights-only student (same as python -m training.release)"),
    "ghost-eval": ("ghost_eval", "paper Table 5: teacher vs acclimated teacher vs student (same as python -m training.ghost_eval)"),
    "finetune": ("finetune", "fine-tune a model on your RGB-D recordings (rosbag2 or image folders): model.pt + report"),
}


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
        module = importlib.import_module(f"{__name__}.{module_name}")
        # A module may reuse another parser's options (``train`` reuses python -m training.train's,
        # ``release`` and ``ghost-eval`` theirs), so both forms of a command parse identically.
        reused = module.parent_parsers() if hasattr(module, "parent_parsers") else []
        has_debug = any("--debug" in p._option_string_actions for p in reused)  # the module forms have their own
        sub_parser = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip().splitlines()[0],
                                    parents=reused if has_debug else [*reused, debug_parent], add_help=not reused)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # OpenMP threads that spin-wait collapse (about 10x slower, measured with `disdepth finetune` on
    # 2 cores) when another process shares the cores: a ROS node, a camera driver, a second job.
    # Set before any subcommand imports torch (libgomp reads it once); the user's own value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    def body() -> int:
        command = next((arg for arg in argv if not arg.startswith("-")), None)
        parser = build_parser(command if command in COMMANDS else None)
        args = parser.parse_args(argv)
        return int(args.handler(args) or 0)

    return run_entry_point(body, debug=debug_requested(argv))


if __name__ == "__main__":
    sys.exit(main())
