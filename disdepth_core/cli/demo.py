"""Run the demo: the real ROS 2 node with the bundled model on a synthetic camera stream.

Default (the README's main job): start ``depth_node`` as a subprocess on the CPU, publish a
synthetic 640x480 camera stream with ground truth, collect ``/depth/image``, ``/depth/points``
and ``/diagnostics`` from a separate node, print latency and accuracy, and write
``outputs/node_demo.png`` and ``outputs/node_demo.ply``.

``--offline``: no ROS; evaluate the model on the synthetic test split with the standard
protocol, compare with the best constant-depth prediction, and write ``outputs/demo.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .arg_types import non_negative_int, positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="protocol evaluation on synthetic test scenes instead of the ROS node demo")
    parser.add_argument("--frames", type=positive_int, default=40, help="node demo: frames to stream (>= 1)")
    parser.add_argument("--rate", type=positive_float, default=10.0, help="node demo: camera rate in Hz (> 0)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled models/demo/model.pt)")
    parser.add_argument("--data", default="outputs/demo_data", help="where the synthetic test scenes are generated")
    parser.add_argument("--out", default="outputs", help="folder for demo.png and demo_metrics.json")
    parser.add_argument("--images", type=non_negative_int, default=0, help="evaluate only N test images (0 = all)")
    parser.add_argument("--bag-frames", type=non_negative_int, default=30,
                        help="offline: also write N synthetic frames as a rosbag2 and run bag-eval on it (0 = skip)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    if not args.offline:
        return run_node(args)
    return run_offline(args)


def run_node(args: argparse.Namespace) -> int:
    """The ROS 2 node on the synthetic stream (needs the ``ros`` extra)."""
    import importlib.util

    if importlib.util.find_spec("rclpy") is None:
        from . import UserError

        raise UserError("the node demo needs ROS 2 Python packages (pip install .[ros]); or run `disdepth demo --offline`")
    from disdepth_ros.demo import run_node_demo

    run_node_demo(args.model, frames=args.frames, rate_hz=args.rate, out_dir=Path(args.out))
    return 0


def run_offline(args: argparse.Namespace) -> int:
    """The core evaluator (the node's pipeline on the model's runtime) over the synthetic test split."""
    from .files import require_file

    if args.model:
        require_file(args.model, "model file")

    import json

    import cv2
    import yaml
    from tqdm import tqdm

    from disdepth_core.data.depth_dataset import build_dataset
    from disdepth_core.demo_assets import find_demo_dir
    from disdepth_core.evaluation import Predictor, dataset_frames, evaluate_frames, protocol_for_dataset
    from disdepth_core.metrics import format_metrics_table
    from disdepth_core.runtime import load_runtime
    from training.config import train_config_from_dict

    model_path = Path(args.model) if args.model else find_demo_dir() / "model.pt"
    recipe = yaml.safe_load(demo_file(model_path, "synth.yaml").read_text())
    cfg = train_config_from_dict(yaml.safe_load(demo_file(model_path, "config.yaml").read_text()))
    predictor = Predictor(load_runtime(model_path, device="cpu"))
    data_root = _ensure_scenes(Path(args.data), recipe, progress=not args.no_progress)

    data = cfg.data
    if recipe["kind"] == "kitti":  # KITTI layout: images under raw/, depth under gt/, one tree for both splits
        data.data_root = data.test_data_root = str(data_root / "raw")
        data.gt_root = data.test_gt_root = str(data_root / "gt")
    else:
        data.data_root, data.test_data_root = str(data_root / "train"), str(data_root / "test")
    data.train_split, data.test_split = str(data_root / "splits" / "train.txt"), str(data_root / "splits" / "test.txt")
    metadata = predictor.runtime.metadata
    print(f"demo model {model_path} ({metadata.architecture}, LG-Conv {metadata.lg_conv}) on {data_root} test split, "
          f"evaluated at {predictor.resolution}")
    dataset = build_dataset(data, "eval")  # one reader for the model, the baseline and the picture
    protocol = protocol_for_dataset(data)
    count = len(dataset) if not args.images else min(args.images, len(dataset))
    shown = tqdm(range(count), desc="eval", unit="img", disable=args.no_progress)
    metrics = evaluate_frames(predictor, dataset_frames(dataset, shown), protocol).compute()
    baseline, constant = _constant_baseline(dataset, protocol, count)
    print(format_metrics_table(metrics))
    print(f"constant-depth baseline ({constant:.2f} m, the test set's median depth):")
    print(format_metrics_table(baseline))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    picture = _panel(predictor, dataset, protocol, rows=4)
    cv2.imwrite(str(out / "demo.png"), picture[..., ::-1])
    (out / "demo_metrics.json").write_text(json.dumps({"model": metrics, "constant_baseline": baseline, "constant_depth_m": constant,
                                                       "resolution": predictor.resolution}, indent=2))
    print(f"wrote {out / 'demo.png'} (RGB | predicted depth | ground truth | abs-rel error) and {out / 'demo_metrics.json'}")
    if args.bag_frames:
        _bag_demo(predictor, recipe, out, args.bag_frames, progress=not args.no_progress)
    return 0


def demo_file(model_path: Path, name: str) -> Path:
    """``name`` (synth.yaml: the scene recipe, config.yaml: the evaluation settings) beside the model,
    else the bundled demo model's copy, with a note; FileNotFoundError lists every place looked."""
    from disdepth_core.demo_assets import demo_dir_candidates

    beside = model_path.parent / name
    if beside.is_file():
        return beside
    for folder in demo_dir_candidates():
        if (folder / name).is_file():
            print(f"note: no {name} beside {model_path}; using the default demo {name} from {folder}")
            return folder / name
    raise FileNotFoundError(f"demo --offline needs {name} beside {model_path} or in the bundled demo folder "
                            f"(looked in {model_path.parent}, " + ", ".join(str(f) for f in demo_dir_candidates()) + ")")


def _bag_demo(predictor, recipe: dict, out: Path, frames: int, progress: bool) -> None:
    """The same model through ``bag-eval`` on a synthetic rosbag2 (what a user runs on a recorded drive)."""
    import shutil

    from disdepth_core.bags.evaluate import BagEvalOptions, evaluate_bag
    from disdepth_core.bags.report import write_report
    from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, INFO_TOPIC, write_synthetic_bag
    from disdepth_core.metrics import format_metrics_table

    bag = out / "demo_bag"
    shutil.rmtree(bag, ignore_errors=True)
    write_synthetic_bag(bag, recipe["kind"], frames=frames, seed=recipe["seed"], storage="mcap", progress=progress,
                        layouts=str(recipe.get("layouts", "rooms")))
    options = BagEvalOptions(image_topic=COMPRESSED_TOPIC, depth_topic=DEPTH_TOPIC, info_topic=INFO_TOPIC, progress=progress)
    result = evaluate_bag(bag, [("demo model", predictor)], options)
    paths = write_report(result, out / "bag_eval")
    print(f"bag-eval on {bag} ({frames} synthetic 480x640 frames, JPEG + 16UC1 ground truth, MCAP), {predictor.resolution}:")
    print(format_metrics_table(result.models[0].accumulator.compute()))
    print(f"wrote {paths['report']} (open it in a browser) and {paths['metrics']}")


def _ensure_scenes(root: Path, recipe: dict, progress: bool) -> Path:
    """Generate the recipe's synthetic test split once (deterministic, so it matches training)."""
    from disdepth_core.data.synthetic import generate_dataset

    kind = recipe["kind"]
    size = (recipe.get("height"), recipe.get("width"))
    effects = bool(recipe.get("camera_effects", False))
    layouts = str(recipe.get("layouts", "rooms"))
    if size != (None, None) or effects or layouts != "rooms":  # one folder per recipe, so an older split is never reused
        extra = "" if layouts == "rooms" else "_" + layouts.replace(",", "+")
        root = root / f"{size[0]}x{size[1]}{'_camera_effects' if effects else ''}{extra}"
    marker = root / kind / "splits" / "test.txt"
    if not marker.is_file():
        print(f"generating {recipe['n_test']} synthetic {kind} test frames (seed {recipe['seed']}) in {root} ...")
        generate_dataset(root, kind, n_train=0, n_test=recipe["n_test"], seed=recipe["seed"], height=size[0], width=size[1],
                         frames_per_scene=recipe.get("frames_per_scene", 10), progress=progress, camera_effects=effects,
                         layouts=layouts)
    return root / kind


def _constant_baseline(dataset, protocol, count: int) -> tuple[dict, float]:
    """Metrics of the best single constant (the median valid GT depth over the test set)."""
    import numpy as np

    gts = [dataset.eval_frame(i)["depth"] for i in range(count)]
    gts = [g for g in gts if g is not None]
    valid = np.concatenate([g[(g > protocol.min_depth) & (g < protocol.max_depth)] for g in gts])
    constant = float(np.median(valid))
    acc = protocol.accumulator()
    for gt in gts:
        acc.update(np.full_like(gt, constant), gt)
    return acc.compute(), constant


def _panel(predictor, dataset, protocol, rows: int):
    """RGB | prediction | GT | error rows of evenly spaced test frames, through the same predictor."""
    import numpy as np

    from disdepth_core.evaluation import dataset_frames, predict_frame
    from disdepth_core.visualize import comparison_panel

    step = max(1, len(dataset) // rows)
    panels = []
    for frame in dataset_frames(dataset, range(0, min(len(dataset), rows * step), step)):
        if frame.gt is None:
            continue
        pred = predict_frame(predictor, frame)
        top, left, h, w = frame.crop_box
        canvas = np.zeros((*frame.gt.shape, 3), np.uint8)
        canvas[top:top + h, left:left + w] = frame.rgb
        panels.append(comparison_panel(canvas, pred, frame.gt, protocol.min_depth, protocol.max_depth))
    return np.concatenate(panels, axis=0)
