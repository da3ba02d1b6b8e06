"""The ``disdepth`` command: one entry point, one small module per subcommand.

Subcommands register themselves in :data:`COMMANDS`; later issues (export, bench, node,
bag-eval) add a module and a line here. A :class:`UserError` (or ValueError/FileNotFoundError
raised by library code for bad user input) prints ``error: ...`` and exits with status 2;
only genuine bugs show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

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
    "predict": ("predict", "depth PNGs, previews and point clouds for an image, a folder or a video"),
}


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="disdepth", description="DisDepth: efficient monocular metric depth for robots.")
    from disdepth_core import __version__

    parser.add_argument("--version", action="version", version=f"disdepth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"disdepth_core.cli.{module_name}")
        sub_parser = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip().splitlines()[0])
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
