"""How depth models do on REAL camera frames, against the best single constant depth.

    python benchmarks/eval_realdata.py --model models/demo/model.pt --model models/demo_outdoor/model.pt
        [--realdata ../shared/realdata] [--json out.json]

Each model is evaluated on the real frames of its own kind (indoor models on TUM, SUN3D and
Kinect v2; outdoor models on the KITTI frame with projected LiDAR), with the standard protocol
(pred clamped to [min, max], valid GT strictly inside it, Garg crop for KITTI) through the
same steps as the node (``disdepth_core.evaluation.Predictor``: focal rescale where intrinsics are
published). Two constant baselines predict one number for every pixel:

* the **set constant**: one depth for the whole set (indoor or outdoor), the median of all its
  valid ground-truth pixels; the issue's target ("beat the best single constant for each set
  by 10 % abs_rel") is measured against this one;
* the **frame oracle**: each frame's own median depth, a stricter reference that no monocular
  model can know (it is told the scale of every frame).

The raw NYU frame's depth is not registered to its colour image, so it is only a range check
(its row is listed but kept out of the means and of the set's median). Real frames are few:
these are sanity figures, not a benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disdepth_core.data.realdata import INDOOR, OUTDOOR, find_realdata_root, load_real_frames  # noqa: E402
from disdepth_core.evaluation import EvalProtocol, Predictor, set_constant_depth  # noqa: E402
from disdepth_core.metrics import compute_depth_metrics, valid_gt_mask  # noqa: E402

COLUMNS = ("abs_rel", "rmse", "log10", "d1")


def model_scene(runtime) -> str:
    """Outdoor for KITTI-format models (or a range beyond 20 m), indoor otherwise."""
    meta = runtime.metadata
    return OUTDOOR if meta.dataset == "kitti" or meta.max_depth > 20.0 else INDOOR


def evaluate_model(model_path: str | Path, realdata: Path) -> list[dict]:
    """One row per real frame: model metrics, constant metrics, and the frame's GT median."""
    from disdepth_core.runtime import load_runtime

    runtime = load_runtime(model_path, backend="torch", device="cpu")
    meta = runtime.metadata
    scene = model_scene(runtime)
    crop = "garg" if scene == OUTDOOR else None
    # The one evaluator's predictor: the node's resize and focal rescale (where K is known),
    # without the node's range mask, so the protocol (not NaN handling) clamps the prediction.
    predictor = Predictor(runtime, focal_rescale=True)
    frames = list(load_real_frames(realdata, scene))
    masks = [valid_gt_mask(frame.depth, meta.min_depth, meta.max_depth, crop) for frame in frames]
    protocol = EvalProtocol(meta.min_depth, meta.max_depth, crop)
    try:
        set_median = set_constant_depth([f.depth for f in frames if f.registered], protocol)
    except ValueError:
        raise RealDataError(f"no registered {scene} frame with valid depth in {realdata}") from None
    rows = []
    for frame, valid in zip(frames, masks):
        pred = predictor(frame.rgb, frame.K)
        gt = frame.depth
        median = float(np.median(gt[valid]))
        model = compute_depth_metrics(pred, gt, meta.min_depth, meta.max_depth, crop)
        oracle = compute_depth_metrics(np.full_like(gt, median), gt, meta.min_depth, meta.max_depth, crop)
        constant = compute_depth_metrics(np.full_like(gt, set_median), gt, meta.min_depth, meta.max_depth, crop)
        rows.append({"model": str(model_path), "frame": frame.name, "scene": scene, "registered": frame.registered,
                     "focal_known": frame.K is not None, "gt_median": median, "set_median": set_median,
                     "pred_median": float(np.nanmedian(np.where(valid, pred, np.nan))), "valid_pixels": int(valid.sum()),
                     "metrics": model, "constant": constant, "oracle": oracle})
    runtime.close()
    return rows



class RealDataError(Exception):
    """The real frames needed for a model's scene are not there (one line, exit 2)."""

def summarise(rows: list[dict]) -> dict:
    """Mean over registered frames of model, set-constant and frame-oracle metrics, and the abs_rel gains."""
    used = [r for r in rows if r["registered"]]
    means = {key: {k: float(np.mean([r[key][k] for r in used])) for k in COLUMNS} for key in ("metrics", "constant", "oracle")}
    return {"frames": len(used), "set_median": used[0]["set_median"], "model": means["metrics"], "constant": means["constant"],
            "oracle": means["oracle"], "abs_rel_gain": 1.0 - means["metrics"]["abs_rel"] / means["constant"]["abs_rel"],
            "abs_rel_gain_vs_oracle": 1.0 - means["metrics"]["abs_rel"] / means["oracle"]["abs_rel"]}


def format_table(rows: list[dict]) -> str:
    head = ("| model | frame | GT median m | pred median m | model abs_rel | set const abs_rel | frame oracle abs_rel "
            "| model rmse | set const rmse | model d1 | set const d1 | frame oracle d1 |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        m, c, o = r["metrics"], r["constant"], r["oracle"]
        note = "" if r["registered"] else " (range check, not registered)"
        lines.append(f"| {Path(r['model']).parent.name} | {r['frame']}{note} | {r['gt_median']:.2f} | {r['pred_median']:.2f} "
                     f"| {m['abs_rel']:.3f} | {c['abs_rel']:.3f} | {o['abs_rel']:.3f} | {m['rmse']:.3f} | {c['rmse']:.3f} "
                     f"| {m['d1']:.3f} | {c['d1']:.3f} | {o['d1']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="model file (repeatable)")
    parser.add_argument("--realdata", default=None, help="folder of the real frames (default: shared/realdata found above the repo)")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    root = Path(args.realdata) if args.realdata else find_realdata_root(Path(__file__).resolve().parents[1])
    if root is None or not root.is_dir():
        print("error: real frames not found; pass --realdata or set DISDEPTH_REALDATA", file=sys.stderr)
        return 2
    all_rows, summaries = [], {}
    for model in args.model:
        if not Path(model).is_file():
            print(f"error: model file not found: {model}", file=sys.stderr)
            return 2
        try:
            rows = evaluate_model(model, root)
        except (RealDataError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        all_rows += rows
        summaries[model] = summarise(rows)
    print(format_table(all_rows))
    print()
    for model, s in summaries.items():
        print(f"{model}: mean over {s['frames']} registered real frame(s): abs_rel {s['model']['abs_rel']:.3f} vs the set "
              f"constant {s['set_median']:.2f} m {s['constant']['abs_rel']:.3f} ({100 * s['abs_rel_gain']:+.1f} % better; target "
              f">= +10 %) and vs the frame oracle {s['oracle']['abs_rel']:.3f} ({100 * s['abs_rel_gain_vs_oracle']:+.1f} %); "
              f"d1 {s['model']['d1']:.3f} vs {s['constant']['d1']:.3f} (set constant) and {s['oracle']['d1']:.3f} (oracle)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": all_rows, "summary": summaries}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
