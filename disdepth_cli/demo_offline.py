"""``disdepth demo --offline``: the model on the synthetic test split of its recipe, with the protocol.

No ROS: the core evaluator (the node's pipeline on the model's runtime) over the recipe's
unseen test frames, beside the best constant depth, plus a picture of a few frames
(RGB | prediction | ground truth | error). The recipe (``synth.yaml``) and evaluation settings
(``config.yaml``) are read from beside the model, else from the bundled demo model.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def run_offline(args: argparse.Namespace) -> int:
    """The core evaluator (the node's pipeline on the model's runtime) over the synthetic test split."""
    from disdepth_core.output_paths import check_output_folder, paths_beside_earlier_run

    from .files import require_file

    if args.model:
        require_file(args.model, "model file")
    # Before any work: --out and --data must be folders it can write; an earlier demo's files are kept.
    out = check_output_folder(args.out, "--out", [("--model", args.model)])
    check_output_folder(args.data, "--data")
    names = OFFLINE_OUTPUTS if args.bag_frames else OFFLINE_OUTPUTS[:2]
    paths, note = paths_beside_earlier_run(out, names)

    import json

    import cv2
    import yaml
    from tqdm import tqdm

    from disdepth_core.data.depth_dataset import build_dataset
    from disdepth_core.bundled_models import find_demo_dir
    from disdepth_core.evaluation import Predictor, constant_baseline, dataset_frames, evaluate_frames, protocol_for_dataset
    from disdepth_core.metrics import format_metrics_table
    from training.train_config import train_config_from_dict

    from .predictor_options import load_model_runtime

    model_path = Path(args.model) if args.model else find_demo_dir() / "model.pt"
    recipe = yaml.safe_load(demo_file(model_path, "synth.yaml").read_text())
    cfg = train_config_from_dict(yaml.safe_load(demo_file(model_path, "config.yaml").read_text()))
    predictor = Predictor(load_model_runtime(str(model_path), device="cpu"))
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
    gts = [gt for gt in (dataset.eval_frame(i)["depth"] for i in range(count)) if gt is not None]
    baseline, constant = constant_baseline(gts, protocol)
    print(format_metrics_table(metrics))
    print(f"constant-depth baseline ({constant:.2f} m, the test set's median depth):")
    print(format_metrics_table(baseline))
    out.mkdir(parents=True, exist_ok=True)
    if note:
        print(note)
    picture = _panel(predictor, dataset, protocol, rows=4)
    cv2.imwrite(str(paths["demo.png"]), picture[..., ::-1])
    paths["demo_metrics.json"].write_text(json.dumps({"model": metrics, "constant_baseline": baseline, "constant_depth_m": constant,
                                                      "resolution": predictor.resolution}, indent=2))
    print(f"wrote {paths['demo.png']} (RGB | predicted depth | ground truth | abs-rel error) and {paths['demo_metrics.json']}")
    if args.bag_frames:
        from .demo_bag import run_bag_demo

        run_bag_demo(predictor, recipe, paths["demo_bag"], paths["bag_eval"], args.bag_frames, progress=not args.no_progress)
    return 0


# The files and folders demo --offline writes into --out (the last two only with --bag-frames).
OFFLINE_OUTPUTS = ("demo.png", "demo_metrics.json", "demo_bag", "bag_eval")


def demo_file(model_path: Path, name: str) -> Path:
    """``name`` (synth.yaml: the scene recipe, config.yaml: the evaluation settings) beside the model,
    else the bundled demo model's copy, with a note; FileNotFoundError lists every place looked."""
    from disdepth_core.bundled_models import demo_dir_candidates

    beside = model_path.parent / name
    if beside.is_file():
        return beside
    for folder in demo_dir_candidates():
        if (folder / name).is_file():
            print(f"note: no {name} beside {model_path}; using the default demo {name} from {folder}")
            return folder / name
    raise FileNotFoundError(f"demo --offline needs {name} beside {model_path} or in the bundled demo folder "
                            f"(looked in {model_path.parent}, " + ", ".join(str(f) for f in demo_dir_candidates()) + ")")


def _ensure_scenes(root: Path, recipe: dict, progress: bool) -> Path:
    """Generate the recipe's synthetic test split once (deterministic, so it matches training)."""
    from disdepth_core.synthetic.dataset_writer import generate_dataset

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
