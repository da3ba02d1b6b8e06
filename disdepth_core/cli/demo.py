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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="protocol evaluation on synthetic test scenes instead of the ROS node demo")
    parser.add_argument("--frames", type=int, default=40, help="node demo: frames to stream")
    parser.add_argument("--rate", type=float, default=10.0, help="node demo: camera rate in Hz")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled models/demo/model.pt)")
    parser.add_argument("--data", default="outputs/demo_data", help="where the synthetic test scenes are generated")
    parser.add_argument("--out", default="outputs", help="folder for demo.png and demo_metrics.json")
    parser.add_argument("--images", type=int, default=0, help="evaluate only N test images (0 = all)")
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
    import json

    import cv2
    import torch
    import yaml

    from disdepth_core.demo_assets import find_demo_dir
    from disdepth_core.metrics import format_metrics_table
    from disdepth_core.models.checkpoint import load_student
    from training.config import train_config_from_dict
    from training.evaluate import evaluate_model

    torch.set_num_threads(max(1, torch.get_num_threads()))
    demo_dir = find_demo_dir() if args.model is None else Path(args.model).parent
    model_path = Path(args.model) if args.model else demo_dir / "model.pt"
    recipe = yaml.safe_load((demo_dir / "synth.yaml").read_text())
    model, meta = load_student(model_path)
    data_root = _ensure_scenes(Path(args.data), recipe, progress=not args.no_progress)

    cfg = train_config_from_dict(yaml.safe_load((demo_dir / "config.yaml").read_text()))
    data = cfg.data
    if recipe["kind"] == "kitti":  # KITTI layout: images under raw/, depth under gt/, one tree for both splits
        data.data_root = data.test_data_root = str(data_root / "raw")
        data.gt_root = data.test_gt_root = str(data_root / "gt")
    else:
        data.data_root, data.test_data_root = str(data_root / "train"), str(data_root / "test")
    data.train_split, data.test_split = str(data_root / "splits" / "train.txt"), str(data_root / "splits" / "test.txt")
    print(f"demo model {model_path} ({meta['model_config']['backbone']}, LG-Conv {meta['model_config']['lg_conv']}) "
          f"on {data_root} test split")
    metrics = evaluate_model(model, data, max_images=args.images, progress=not args.no_progress)
    from disdepth_core.data.depth_dataset import build_dataset

    dataset = build_dataset(data, "eval")  # one reader for the baseline and the picture
    baseline, constant = _constant_baseline(dataset, data, args.images)
    print(format_metrics_table(metrics))
    print(f"constant-depth baseline ({constant:.2f} m, the test set's median depth):")
    print(format_metrics_table(baseline))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    picture = _panel(model, dataset, data, rows=4)
    cv2.imwrite(str(out / "demo.png"), picture[..., ::-1])
    (out / "demo_metrics.json").write_text(json.dumps({"model": metrics, "constant_baseline": baseline, "constant_depth_m": constant}, indent=2))
    print(f"wrote {out / 'demo.png'} (RGB | predicted depth | ground truth | abs-rel error) and {out / 'demo_metrics.json'}")
    return 0


def _ensure_scenes(root: Path, recipe: dict, progress: bool) -> Path:
    """Generate the recipe's synthetic test split once (deterministic, so it matches training)."""
    from disdepth_core.data.synthetic import generate_dataset

    kind = recipe["kind"]
    size = (recipe.get("height"), recipe.get("width"))
    effects = bool(recipe.get("camera_effects", False))
    if size != (None, None) or effects:  # one folder per recipe, so an older split is never reused
        root = root / f"{size[0]}x{size[1]}{'_camera_effects' if effects else ''}"
    marker = root / kind / "splits" / "test.txt"
    if not marker.is_file():
        print(f"generating {recipe['n_test']} synthetic {kind} test frames (seed {recipe['seed']}) in {root} ...")
        generate_dataset(root, kind, n_train=0, n_test=recipe["n_test"], seed=recipe["seed"], height=size[0], width=size[1],
                         frames_per_scene=recipe.get("frames_per_scene", 10), progress=progress, camera_effects=effects)
    return root / kind


def _constant_baseline(dataset, data, max_images: int) -> tuple[dict, float]:
    """Metrics of the best single constant (the median valid GT depth over the test set)."""
    import numpy as np

    from disdepth_core.metrics import DepthMetricsAccumulator

    count = len(dataset) if not max_images else min(max_images, len(dataset))
    gts = [dataset[i]["depth"][0].numpy() for i in range(count)]
    valid = np.concatenate([g[(g > data.min_depth) & (g < data.max_depth)] for g in gts])
    constant = float(np.median(valid))
    acc = DepthMetricsAccumulator(min_depth=data.min_depth, max_depth=data.max_depth, crop=data.eval_crop)
    for gt in gts:
        acc.update(np.full_like(gt, constant), gt)
    return acc.compute(), constant


def _panel(model, dataset, data, rows: int):
    import numpy as np

    from disdepth_core.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from disdepth_core.visualize import comparison_panel
    from training.evaluate import paste_prediction, predict_depth

    step = max(1, len(dataset) // rows)
    panels = []
    for index in range(0, min(len(dataset), rows * step), step):
        sample = dataset[index]
        pred = predict_depth(model, sample["image"][None])[0, 0].numpy()
        gt = sample["depth"][0].numpy()
        pred = paste_prediction(pred, gt.shape, sample["crop_box"])
        mean, std = np.asarray(IMAGENET_MEAN)[:, None, None], np.asarray(IMAGENET_STD)[:, None, None]
        rgb = (np.clip(sample["image"].numpy() * std + mean, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
        top, left, h, w = (int(v) for v in sample["crop_box"])
        canvas = np.zeros((*gt.shape, 3), np.uint8)
        canvas[top:top + h, left:left + w] = rgb
        panels.append(comparison_panel(canvas, pred, gt, data.min_depth, data.max_depth))
    return np.concatenate(panels, axis=0)
