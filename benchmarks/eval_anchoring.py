"""Scale anchoring and confidence on REAL frames, through ``bag-eval``'s code with the node's defaults.

    python benchmarks/eval_anchoring.py [--model models/demo/model.pt] [--realdata ../shared/realdata]
        [--time-constants 0,0.2,0.5] [--json out.json]

The real indoor frames with registered depth (TUM desk, SUN3D corridor, Kinect v2 living room: one
frame each, and the 50 frames of ``sun3d_3dmatch_fragment1``; the raw NYU frame is not registered,
so it is left out) are written as rosbags with the simulated 2D LiDAR of
``shared/facts/realworld.md`` (3 rows around the centre, every 4th column, 16UC1 at camera size,
:mod:`disdepth_core.sparse_simulation`) on its own topic, then evaluated by
:func:`disdepth_core.bags.bag_evaluation.evaluate_bag` exactly as ``disdepth bag-eval ...
--sparse-depth-topic /scan/depth`` does: the node's pipeline at the model's input size, no focal
rescale, the model's depth range, the node's anchor defaults (``backend auto``: the fast CPU path).
The three single frames are 10 s apart (independent: no smoothing across them), the fragment at
its recorded 30 Hz. Printed per set and overall: unanchored, anchored and the set constant (one
median of every valid ground-truth pixel of the set), abs_rel per frame then averaged, and the
confidence sparsification (abs_rel over the most confident 100/75/50/25 % of each frame's pixels).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disdepth_core.data.realdata import RealFrame, find_realdata_root, load_real_frames  # noqa: E402

IMAGE_TOPIC, DEPTH_TOPIC, SPARSE_TOPIC = "/camera/color/image_raw", "/camera/depth/image_raw", "/scan/depth"
FRAGMENT = "sun3d_3dmatch_fragment1"


def fragment_frames(root: Path) -> list[RealFrame]:
    """The 50 frames of the recorded room (colour PNG, depth uint16 millimetres, registered; K from the folder)."""
    folder = root / FRAGMENT
    fx, _, cx, _, fy, cy = np.loadtxt(folder / "camera-intrinsics.txt").reshape(-1)[:6]
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    frames = []
    for color in sorted(folder.glob("frame-*.color.png")):
        rgb = cv2.cvtColor(cv2.imread(str(color)), cv2.COLOR_BGR2RGB)
        depth = cv2.imread(str(color).replace(".color.png", ".depth.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
        frames.append(RealFrame(color.name.split(".")[0], "indoor", rgb, depth, K))
    return frames


def write_bag(frames: list[RealFrame], out: Path, period_s: float) -> Path:
    """Colour (rgb8), ground truth (16UC1) and the simulated LiDAR band (16UC1), one stamp per frame."""
    from disdepth_core.bags.writer import BagWriter, MessageFactory
    from disdepth_core.sparse_simulation import lidar_band_millimetres

    factory = MessageFactory()
    with BagWriter(out, "sqlite3") as writer:
        for i, frame in enumerate(frames):
            stamp = 1_700_000_000 * 10**9 + int(round(i * period_s * 1e9))
            header = factory.header(stamp, "camera_color_optical_frame")
            depth = np.where(frame.depth > 0, frame.depth, np.nan).astype(np.float32)
            writer.add(IMAGE_TOPIC, "sensor_msgs/msg/Image", factory.image(frame.rgb, "rgb8", header), stamp)
            writer.add(DEPTH_TOPIC, "sensor_msgs/msg/Image", factory.depth_image(depth, header, "16UC1"), stamp)
            writer.add(SPARSE_TOPIC, "sensor_msgs/msg/Image", factory.image(lidar_band_millimetres(depth), "16UC1", header), stamp)
    return out


def evaluate(bag: Path, model: str, settings) -> dict:
    """One bag-eval run (the CLI's predictor: backend auto, model input size, confidence) -> per-frame rows."""
    import argparse as _argparse

    from disdepth_cli.predictor_options import build_predictor
    from disdepth_core.bags.bag_evaluation import BagEvalOptions, evaluate_bag

    args = _argparse.Namespace(backend="auto", device="auto", input_size=None, full_resolution=False, resize_mode="resize",
                               focal_rescale=False, flip_tta=False)
    predictor = build_predictor(model, args, confidence=True)
    options = BagEvalOptions(image_topic=IMAGE_TOPIC, depth_topic=DEPTH_TOPIC, sparse_topic=SPARSE_TOPIC, anchor=settings,
                             progress=False)
    result = evaluate_bag(bag, [("model", predictor)], options)
    model_result = result.models[0]
    return {"backend": predictor.runtime.backend, "frames": len(result.frames), "warnings": result.warnings,
            "abs_rel": [m["abs_rel"] if m else None for m in model_result.metrics],
            "unanchored": model_result.unanchored.compute() if model_result.unanchored else None,
            "metrics": model_result.accumulator.compute(), "sparsification": model_result.sparsification.compute(),
            "scales": model_result.scales}


def set_constant(frames: list[RealFrame], min_depth: float, max_depth: float) -> float:
    from disdepth_core.evaluation import EvalProtocol, constant_baseline

    return constant_baseline([f.depth for f in frames], EvalProtocol(min_depth, max_depth))[0]["abs_rel"]


def row(name: str, frames: int, unanchored: float, anchored: float, constant: float, curve: list[float],
        curve_plain: list[float]) -> str:
    """One Markdown table row: the three abs_rels, their ratios, both sparsification curves and their 0.5 / 1.0 ratios."""
    return (f"| {name} | {frames} | {unanchored:.3f} | {anchored:.3f} | {constant:.3f} | {anchored / constant:.2f} | "
            f"{anchored / unanchored:.2f} | {' / '.join(f'{v:.3f}' for v in curve)} | {curve[2] / curve[0]:.2f} | "
            f"{' / '.join(f'{v:.3f}' for v in curve_plain)} | {curve_plain[2] / curve_plain[0]:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/demo/model.pt")
    parser.add_argument("--realdata", default=None)
    parser.add_argument("--time-constants", default="0", help="anchor time constants to compare on the fragment (s)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from disdepth_core.scale_anchor import AnchorSettings

    start = time.perf_counter()
    time_constants = [float(t) for t in args.time_constants.split(",")]
    root = Path(args.realdata) if args.realdata else find_realdata_root(Path(__file__).resolve().parents[1])
    if root is None or not (root / FRAGMENT).is_dir():
        print("error: real frames not found; pass --realdata or set DISDEPTH_REALDATA", file=sys.stderr)
        return 2
    singles = [f for f in load_real_frames(root, "indoor") if f.registered]
    sets = {"TUM + SUN3D + Kinect v2 (1 frame each, 10 s apart)": (singles, 10.0),
            f"{FRAGMENT} (50 frames, 30 Hz)": (fragment_frames(root), 1.0 / 30.0)}
    from disdepth_core.runtime import load_runtime

    meta = load_runtime(args.model, backend="torch", device="cpu").metadata
    report = {}
    with tempfile.TemporaryDirectory(prefix="disdepth-anchoring-") as tmp:
        for name, (frames, period) in sets.items():
            bag = write_bag(frames, Path(tmp) / f"bag{len(report)}", period)
            plain = evaluate(bag, args.model, AnchorSettings())
            anchored = {tc: evaluate(bag, args.model, AnchorSettings(mode="sparse_depth", time_constant=tc))
                        for tc in time_constants}
            report[name] = {"frames": len(frames), "set_constant": set_constant(frames, meta.min_depth, meta.max_depth),
                            "plain": plain, "anchored": anchored, "per_frame_names": [f.name for f in frames]}
    all_frames = singles + fragment_frames(root)
    overall_constant = set_constant(all_frames, meta.min_depth, meta.max_depth)
    default_tc = 0.0 if 0.0 in time_constants else time_constants[0]
    print(f"model {args.model} ({next(iter(report.values()))['plain']['backend']}), node defaults (anchor time constant "
          f"{default_tc:g} s), simulated LiDAR band\n")
    print("| set | frames | unanchored abs_rel | anchored abs_rel | set constant abs_rel | anchored / constant | "
          "anchored / unanchored | sparsification abs_rel at 1.0 / 0.75 / 0.5 / 0.25 (anchored) | 0.5 / 1.0 | "
          "same, unanchored | 0.5 / 1.0 |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---|---:|")
    per_frame: dict[str, list] = {"unanchored": [], "anchored": [], "curve": [], "curve_plain": []}
    for name, data in report.items():
        anchored = data["anchored"][default_tc]
        curve = [p["abs_rel"] for p in anchored["sparsification"]]
        curve_plain = [p["abs_rel"] for p in data["plain"]["sparsification"]]
        print(row(name, data["frames"], data["plain"]["metrics"]["abs_rel"], anchored["metrics"]["abs_rel"],
                  data["set_constant"], curve, curve_plain))
        per_frame["unanchored"] += data["plain"]["abs_rel"]
        per_frame["anchored"] += anchored["abs_rel"]
        per_frame["curve"] += [curve] * data["frames"]  # the curves are frame means already: weight by frames
        per_frame["curve_plain"] += [curve_plain] * data["frames"]
        for tc, other in data["anchored"].items():
            if tc != default_tc:
                print(f"|   (time constant {tc:g} s) | | | {other['metrics']['abs_rel']:.3f} | | | | | | | |")
    count = len(per_frame["anchored"])
    print(row(f"all {count} frames", count, float(np.mean(per_frame["unanchored"])), float(np.mean(per_frame["anchored"])),
              overall_constant, list(np.mean(per_frame["curve"], axis=0)), list(np.mean(per_frame["curve_plain"], axis=0))))
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
