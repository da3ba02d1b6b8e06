"""Turn a training checkpoint into a small weights-only release file (what ships to robots).

    python -m training.release --checkpoint runs/x/best.pt --output models/demo/model.pt [--half]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.release", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (last.pt / best.pt)")
    parser.add_argument("--output", required=True, help="release file (.pt or .safetensors)")
    parser.add_argument("--half", action="store_true", help="store float weights as float16 (half the size)")
    parser.add_argument("--write-config", default=None, metavar="YAML",
                        help="also write the run's full training config (reusable with --config)")
    args = parser.parse_args(argv)
    for option, value, example in (("--output", args.output, "model.pt"), ("--write-config", args.write_config, "config.yaml")):
        problem = _output_problem(option, value, example)
        if problem:  # before torch loads or the checkpoint is read
            print(f"error: {problem}", file=sys.stderr)
            return 2

    from disdepth_core.models.checkpoint import CheckpointError, load_student, read_checkpoint, save_checkpoint
    from disdepth_core.models.config import StudentConfig

    try:
        payload = read_checkpoint(args.checkpoint)
        model, _ = load_student(args.checkpoint)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    meta = dict(payload.get("meta") or {})
    meta["released_from"] = Path(args.checkpoint).name
    training_state = payload.get("training_state") or {}
    distill = (training_state.get("train_config") or {}).get("distill") or {}
    dropped = sorted(training_state.get("parts") or {})
    if distill.get("enabled"):
        meta["distillation"] = {key: distill.get(key) for key in ("method", "teacher_backbone", "kd_weight", "kd_start_epoch")}
        meta["distillation"]["teacher_checkpoint"] = Path(str(distill.get("teacher_checkpoint", ""))).name
    save_checkpoint(args.output, model, StudentConfig.from_dict(payload["model_config"]), meta, half=args.half)
    if args.write_config:
        import yaml

        train_config = (payload.get("training_state") or {}).get("train_config")
        if not train_config:
            print(f"error: {args.checkpoint} records no training config (not a training checkpoint)", file=sys.stderr)
            return 2
        Path(args.write_config).write_text(yaml.safe_dump(train_config, sort_keys=False))
        print(f"wrote {args.write_config}")
    size_mb = Path(args.output).stat().st_size / 1e6
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    note = f"; dropped training-only parts: {', '.join(dropped)}" if dropped else ""
    print(f"wrote {args.output} ({size_mb:.1f} MB, {'float16' if args.half else 'float32'} weights, "
          f"{params_m:.2f} M student parameters{note})")
    return 0


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
