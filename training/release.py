"""Turn a training checkpoint into a small weights-only release file (what ships to robots).

    disdepth release --checkpoint runs/x/best.pt --output models/demo/model.pt [--half]
    (the same as python -m training.release ...)

Drops the optimizer state (two thirds of a training checkpoint), optionally stores weights in
float16 (loaded back as float32), and keeps the metadata runtimes need. A distillation checkpoint
releases as a plain student: the teacher, FAM, LAM, ghost decoder and KD regressors live only in
its training state and are dropped, so the file has the parameters and ONNX graph of a supervised
student of the same config; ``meta.distillation`` records the method and teacher it came from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from disdepth_core.entry_point import UserError, debug_requested, run_entry_point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.release", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (last.pt / best.pt)")
    parser.add_argument("--output", required=True, help="release file (.pt or .safetensors)")
    parser.add_argument("--half", action="store_true", help="store float weights as float16 (half the size)")
    parser.add_argument("--write-config", default=None, metavar="YAML",
                        help="also write the run's full training config (reusable with --config)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error (same as DISDEPTH_DEBUG=1)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Release with parsed options; user errors raise :class:`UserError` (exit status 2)."""
    for option, value, example in (("--output", args.output, "model.pt"), ("--write-config", args.write_config, "config.yaml")):
        problem = _output_problem(option, value, example)
        if problem:  # before torch loads or the checkpoint is read
            raise UserError(problem)

    from disdepth_core.models.checkpoint import load_model, read_checkpoint, save_checkpoint
    from disdepth_core.models.model_config import ModelConfig

    payload = read_checkpoint(args.checkpoint)
    model, _ = load_model(args.checkpoint)
    meta = dict(payload.get("meta") or {})
    meta["released_from"] = Path(args.checkpoint).name
    training_state = payload.get("training_state") or {}
    distill = (training_state.get("train_config") or {}).get("distill") or {}
    dropped = sorted(training_state.get("parts") or {})
    if distill.get("enabled"):
        meta["distillation"] = {key: distill.get(key) for key in ("method", "teacher_backbone", "kd_weight", "kd_start_epoch")}
        meta["distillation"]["teacher_checkpoint"] = Path(str(distill.get("teacher_checkpoint", ""))).name
    save_checkpoint(args.output, model, ModelConfig.from_dict(payload["model_config"]), meta, half=args.half)
    if args.write_config:
        import yaml

        train_config = (payload.get("training_state") or {}).get("train_config")
        if not train_config:
            raise UserError(f"{args.checkpoint} records no training config (not a training checkpoint)")
        Path(args.write_config).write_text(yaml.safe_dump(train_config, sort_keys=False))
        print(f"wrote {args.write_config}")
    size_mb = Path(args.output).stat().st_size / 1e6
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    note = f"; dropped training-only parts: {', '.join(dropped)}" if dropped else ""
    print(f"wrote {args.output} ({size_mb:.1f} MB, {'float16' if args.half else 'float32'} weights, "
          f"{params_m:.2f} M student parameters{note})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_entry_point(lambda: run(build_parser().parse_args(argv)), debug=debug_requested(argv))


def _output_problem(option: str, value: str | None, example: str) -> str | None:
    """Why ``value`` cannot be written as given (a folder, or a missing parent folder); None if it can.
    Missing folders are not created: a typo in the path should not quietly become a new folder."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        return f"{option} {path} is a folder; give the file to write, e.g. {path / example}"
    parent = path.parent
    if not parent.exists():
        return f"{option} folder {parent} does not exist; create it first (mkdir -p {parent})"
    if not parent.is_dir():
        return f"{option} folder {parent} is not a folder"
    return None


if __name__ == "__main__":
    sys.exit(main())
