"""Paper Table 5: the teacher with its own decoder vs. the acclimated teacher read by the ghost decoder.

    disdepth ghost-eval --checkpoint runs/paper/t5_kitti_ghost_teacher/last.pt [--max-images N]
    (the same as python -m training.ghost_eval ...)

Rebuilds the distillation run recorded in the checkpoint (its training config, the teacher from
``distill.teacher_checkpoint``, the student and FAM/LAM weights from the checkpoint; the ghost
decoder is the student's decoder, so it has no weights of its own, and a ghost copy stored by
older checkpoints is ignored) and evaluates, with
the standard protocol on the config's test split: the teacher as trained (its own decoder), the
teacher's features through FAM (+ LAM) and the ghost decoder (= the student's decoder at that
step), and the distilled student, so the three rows come from one file and one protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

from disdepth_core.arg_types import non_negative_int
from disdepth_core.entry_point import debug_requested, run_entry_point

from .distributed import resolve_device


class GhostTeacher(nn.Module):
    """Eval-mode depth of teacher -> FAM (-> LAM) -> ghost decoder, the ``evaluate_model`` contract."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.ghost_teacher_depth(images)


def evaluate_ghost_teacher(checkpoint: str, overrides: list[str] | None = None, max_images: int = 0,
                           device: str | torch.device = "cpu", progress: bool = False) -> dict[str, dict[str, float]]:
    """Metrics of ``teacher``, ``ghost_teacher`` and ``student`` for a distillation checkpoint."""
    from disdepth_core.models.checkpoint import read_checkpoint

    from .train_config import apply_overrides, train_config_from_dict
    from .distributed import DistInfo
    from .validation import evaluate_model
    from .modules import STUDENT, build_training_module

    payload = read_checkpoint(checkpoint)
    recorded = (payload.get("training_state") or {}).get("train_config")
    if not recorded:
        raise ValueError(f"{checkpoint} records no training config: pass a distillation run's last.pt (not a released model)")
    cfg = train_config_from_dict(apply_overrides(recorded, list(overrides or [])))
    if not cfg.distill.enabled or cfg.distill.method not in ("disdepth", "fam"):
        raise ValueError(f"{checkpoint} is not a run with a ghost decoder (distill.enabled={cfg.distill.enabled}, "
                         f"method={cfg.distill.method!r}); Table 5 needs method disdepth or fam")
    cfg.model.pretrained_backbone = "none"  # every weight comes from the checkpoint: no ImageNet download
    module = build_training_module(cfg)
    module.load_trainable_state({STUDENT: payload["state_dict"], **payload["training_state"].get("parts", {})}, str(checkpoint))
    module = module.to(device).eval()
    info = DistInfo(device=torch.device(device))
    rows: dict[str, nn.Module] = {"teacher": module.teacher, "ghost_teacher": GhostTeacher(module), "student": module.student}
    return {name: evaluate_model(model, cfg.data, dist_info=info, max_images=max_images, progress=progress)
            for name, model in rows.items()}


def format_table(results: dict[str, dict[str, float]]) -> str:
    labels = {"teacher": "Teacher", "ghost_teacher": "Teacher w/ ghost decoder", "student": "Student (distilled)"}
    lines = ["| Method | Abs Rel | Sq Rel | RMSE | d1 |", "|---|---:|---:|---:|---:|"]
    for name, metrics in results.items():
        lines.append(f"| {labels[name]} | {metrics['abs_rel']:.4f} | {metrics['sq_rel']:.4f} | {metrics['rmse']:.4f} | {metrics['d1']:.3f} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.ghost_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a distillation run's last.pt/best.pt (with training state)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override the recorded config, e.g. --set data.test_split=... or distill.teacher_checkpoint=...")
    parser.add_argument("--max-images", type=non_negative_int, default=0,
                        help="evaluate the first N test images only (>= 0; 0 = all)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--save-json", default=None, help="also write the three rows' metrics here")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error (same as DISDEPTH_DEBUG=1)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Evaluate with parsed options; user errors raise (``--device`` is checked before any work)."""
    if args.save_json:  # before any work: a bad path must not cost an evaluation
        from disdepth_core.output_paths import check_output_file

        check_output_file(args.save_json, "--save-json", [("--checkpoint", args.checkpoint)], "ghost.json")
    device = resolve_device(args.device)
    results = evaluate_ghost_teacher(args.checkpoint, args.overrides, args.max_images, device, not args.no_progress)
    print(format_table(results))
    if args.save_json:
        Path(args.save_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save_json).write_text(json.dumps(results, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_entry_point(lambda: run(build_parser().parse_args(argv)), debug=debug_requested(argv))


if __name__ == "__main__":
    sys.exit(main())
