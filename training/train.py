"""``python -m training.train --config CFG [--resume [PATH]] [--set key=value ...]``.

Works the same under ``torchrun --nproc_per_node N -m training.train ...`` (DDP), and as
``disdepth train``. User errors (bad config or ``--set`` value, missing or unreadable data,
unwritable ``out_dir``, full disk, unavailable ``--device``) print one clear line and exit with
status 2, not a traceback (:mod:`disdepth_core.entry_point`, shared by every command); the last
good checkpoint is kept. Ctrl-C saves ``last.pt`` at the current step and exits with 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from disdepth_core.entry_point import EXIT_INTERRUPTED, debug_requested, run_entry_point

from .run_folder import refuse_to_replace_a_run
from .train_config import load_train_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.train", description="Train a DisDepth student (supervised).")
    parser.add_argument("--config", required=True, help="YAML config, e.g. training/configs/synthetic_nyu_b0.yaml")
    parser.add_argument("--resume", nargs="?", const="auto", default=None,
                        help="resume from PATH, or from <out_dir>/last.pt when given without a path")
    parser.add_argument("--out-dir", default=None, help="override log.out_dir")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.epochs=2 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="disable the progress bar")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error (same as DISDEPTH_DEBUG=1)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Train with parsed options; user errors raise (the caller maps them to exit statuses)."""
    overrides = list(args.overrides) + ([f"log.out_dir={args.out_dir}"] if args.out_dir else [])
    try:
        cfg = load_train_config(args.config, overrides)
        resume = args.resume
        if resume == "auto":
            candidate = Path(cfg.log.out_dir) / "last.pt"
            resume = str(candidate) if candidate.is_file() else None
            if resume is None:
                print(f"[train] --resume: no {candidate} yet, starting fresh", file=sys.stderr)
        refuse_to_replace_a_run(Path(cfg.log.out_dir), resume)
        from .trainer import Trainer  # torch: after the checks above

        trainer = Trainer(cfg, resume=resume, device=args.device, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted before training started", file=sys.stderr)
        return EXIT_INTERRUPTED
    from .distributed import barrier, cleanup

    try:
        trainer.train()
        # Finish together: a rank that destroys its gloo group while a peer is still inside a
        # collective can abort ("terminate called without an active exception").
        barrier(trainer.dist)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # the trainer saved last.pt at this step and said so
    finally:
        cleanup(trainer.dist)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_entry_point(lambda: run(build_parser().parse_args(argv)), debug=debug_requested(argv))


if __name__ == "__main__":
    sys.exit(main())
