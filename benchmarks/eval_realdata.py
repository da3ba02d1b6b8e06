"""How depth models do on REAL camera frames, against the best single constant depth.

    python benchmarks/eval_realdata.py --model models/demo/model.pt --model models/demo_outdoor/model.pt
        [--realdata ../shared/realdata] [--json out.json]

Each model is evaluated on the real frames of its own kind (indoor models on TUM, SUN3D and
Kinect v2; outdoor models on the KITTI frame with projected LiDAR), with the standard protocol
(pred clamped to [min, max], valid GT strictly inside it, Garg crop for KITTI) through the
same steps as the node (``disdepth_core.evaluation.Predictor``: focal rescale where intrinsics are
published). The constant baseline predicts one number for every pixel: the median GT depth
of that frame (the best constant for abs_rel, and one a monocular model cannot know). The
raw NYU frame's depth is not registered to its colour image, so it is only a range check
(its row is listed but kept out of the mean). Real frames are few: these are sanity figures,
not a benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disdepth_core.data.realdata import INDOOR, OUTDOOR, find_realdata_root, load_real_frames  # noqa: E402
from disdepth_core.evaluation import Predictor  # noqa: E402
from disdepth_core.metrics import compute_depth_metrics  # noqa: E402

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
    rows = []
    for frame in load_real_frames(realdata, scene):
        pred = predictor(frame.rgb, frame.K)
        gt = frame.depth
        valid = (gt > meta.min_depth) & (gt < meta.max_depth)
        if crop == "garg":
            from disdepth_core.metrics import garg_crop_mask

            valid &= garg_crop_mask(*gt.shape)
        median = float(np.median(gt[valid]))
        model = compute_depth_metrics(pred, gt, meta.min_depth, meta.max_depth, crop)
        constant = compute_depth_metrics(np.full_like(gt, median), gt, meta.min_depth, meta.max_depth, crop)
        rows.append({"model": str(model_path), "frame": frame.name, "scene": scene, "registered": frame.registered,
                     "focal_known": frame.K is not None, "gt_median": median,
                     "pred_median": float(np.nanmedian(np.where(valid, pred, np.nan))), "valid_pixels": int(valid.sum()),
                     "metrics": model, "constant": constant})
    runtime.close()
    return rows


def summarise(rows: list[dict]) -> dict:
    """Mean over registered frames of model and constant metrics, and the abs_rel gain."""
    used = [r for r in rows if r["registered"]]
    mean = {k: float(np.mean([r["metrics"][k] for r in used])) for k in COLUMNS}
    const = {k: float(np.mean([r["constant"][k] for r in used])) for k in COLUMNS}
    return {"frames": len(used), "model": mean, "constant": const,
            "abs_rel_gain": 1.0 - mean["abs_rel"] / const["abs_rel"]}


def format_table(rows: list[dict]) -> str:
    head = ("| model | frame | GT median m | pred median m | model abs_rel | const abs_rel | model rmse | const rmse "
            "| model d1 | const d1 |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        m, c = r["metrics"], r["constant"]
        note = "" if r["registered"] else " (range check, not registered)"
        lines.append(f"| {Path(r['model']).parent.name} | {r['frame']}{note} | {r['gt_median']:.2f} | {r['pred_median']:.2f} "
                     f"| {m['abs_rel']:.3f} | {c['abs_rel']:.3f} | {m['rmse']:.3f} | {c['rmse']:.3f} | {m['d1']:.3f} | {c['d1']:.3f} |")
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
        rows = evaluate_model(model, root)
        all_rows += rows
        summaries[model] = summarise(rows)
    print(format_table(all_rows))
    print()
    for model, s in summaries.items():
        print(f"{model}: mean over {s['frames']} registered real frame(s): abs_rel {s['model']['abs_rel']:.3f} vs constant "
              f"{s['constant']['abs_rel']:.3f} ({100 * s['abs_rel_gain']:+.1f} % better), d1 {s['model']['d1']:.3f} vs "
              f"{s['constant']['d1']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": all_rows, "summary": summaries}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
