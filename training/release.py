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

# What the release file may be called: the suffixes every loader reads as a DisDepth checkpoint
# (runtime/loader.py's torch backend); .safetensors is written as safetensors, the others as torch zips.
RELEASE_SUFFIXES = (".pt", ".pth", ".safetensors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.release", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (last.pt / best.pt)")
    parser.add_argument("--output", required=True, help="release file (.pt, .pth or .safetensors)")
    parser.add_argument("--half", action="store_true", help="store float weights as float16 (half the size)")
    parser.add_argument("--write-config", default=None, metavar="YAML",
                        help="also write the run's full training config (reusable with --config)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error (same as DISDEPTH_DEBUG=1)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Release with parsed options; user errors raise :class:`UserError` (exit status 2).

    Everything checkable is checked before anything is written (issue 20): the outputs against
    the checkpoint and each other, their folders, and whether the checkpoint records the training
    config ``--write-config`` asks for; the two files are then written together.
    """
    from disdepth_core.output_paths import check_output_file

    output = check_output_file(args.output, "--output", [("--checkpoint", args.checkpoint)], "model.pt", create_parents=False)
    if output.suffix.lower() not in RELEASE_SUFFIXES:  # e.g. rel.onnx: a torch zip no loader would open
        raise UserError(f"--output {output} must end in {', '.join(RELEASE_SUFFIXES[:-1])} or {RELEASE_SUFFIXES[-1]} "
                        f"(a DisDepth checkpoint), e.g. {output.with_suffix('.pt').name}; for ONNX or TensorRT, "
                        "run disdepth export on the released file")
    config_path = None
    if args.write_config:
        config_path = check_output_file(args.write_config, "--write-config", [("--checkpoint", args.checkpoint),
                                                                             ("--output", args.output)],
                                        "config.yaml", create_parents=False)

    from disdepth_core.models.checkpoint import load_model, read_checkpoint
    from disdepth_core.models.model_config import ModelConfig

    payload = read_checkpoint(args.checkpoint)
    training_state = payload.get("training_state") or {}
    train_config = training_state.get("train_config")
    if config_path is not None and not train_config:
        raise UserError(f"{args.checkpoint} records no training config (not a training checkpoint); leave out --write-config")
    model, _ = load_model(args.checkpoint)
    meta = dict(payload.get("meta") or {})
    meta["released_from"] = Path(args.checkpoint).name
    distill = (train_config or {}).get("distill") or {}
    dropped = sorted(training_state.get("parts") or {})
    if distill.get("enabled"):
        meta["distillation"] = {key: distill.get(key) for key in ("method", "teacher_backbone", "kd_weight", "kd_start_epoch")}
        meta["distillation"]["teacher_checkpoint"] = Path(str(distill.get("teacher_checkpoint", ""))).name
    _write_release(output, config_path, model, ModelConfig.from_dict(payload["model_config"]), meta, train_config, args.half)
    if config_path is not None:
        print(f"wrote {config_path}")
    size_mb = output.stat().st_size / 1e6
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    note = f"; dropped training-only parts: {', '.join(dropped)}" if dropped else ""
    print(f"wrote {output} ({size_mb:.1f} MB, {'float16' if args.half else 'float32'} weights, "
          f"{params_m:.2f} M student parameters{note})")
    return 0


def _write_release(output: Path, config_path: Path | None, model, model_config, meta: dict, train_config, half: bool) -> None:
    """The release file and (optionally) its training config, both or neither: the config goes to a
    temp file first and is renamed into place only after the release file is written. A failed
    write (permissions, a full disk) is one line naming the folder and the reason."""
    import os
    import tempfile

    import yaml

    from disdepth_core.models.checkpoint import save_checkpoint, write_stopped_error
    from disdepth_core.output_paths import write_failure

    staged = None
    try:
        if config_path is not None:
            try:
                fd, staged = tempfile.mkstemp(prefix=f".{config_path.name}.", suffix=".tmp", dir=config_path.parent)
                with os.fdopen(fd, "w") as handle:
                    handle.write(yaml.safe_dump(train_config, sort_keys=False))
            except OSError as err:
                raise UserError(write_failure("--write-config", config_path, err) + "; nothing was written") from None
        try:
            save_checkpoint(output, model, model_config, meta, half=half)
        except (OSError, RuntimeError) as err:
            failure = write_stopped_error(err, output.parent)  # torch's "unexpected pos": a full disk
            if not isinstance(failure, OSError):
                raise
            raise UserError(write_failure("--output", output, failure) + "; nothing was written") from None
        if staged is not None:
            os.replace(staged, config_path)
            staged = None
    finally:
        if staged is not None:
            Path(staged).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_entry_point(lambda: run(build_parser().parse_args(argv)), debug=debug_requested(argv))


if __name__ == "__main__":
    sys.exit(main())
