"""``disdepth demo --offline``'s last step: the model through ``bag-eval`` on a synthetic rosbag2.

What a user runs on a recorded drive, on a bag written from the demo recipe's scenes (JPEG
images, 16UC1 ground truth, camera_info, MCAP storage), with the HTML report.
"""

from __future__ import annotations

from pathlib import Path


def run_bag_demo(predictor, recipe: dict, bag: Path, report_dir: Path, frames: int, progress: bool) -> None:
    """The same model through ``bag-eval`` on a synthetic rosbag2 written to ``bag`` (a new path), with the
    report in ``report_dir`` (what a user runs on a recorded drive)."""
    from disdepth_core.bags.bag_evaluation import BagEvalOptions, evaluate_bag
    from disdepth_core.bags.report import write_report
    from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, INFO_TOPIC, write_synthetic_bag
    from disdepth_core.metrics import format_metrics_table

    write_synthetic_bag(bag, recipe["kind"], frames=frames, seed=recipe["seed"], storage="mcap", progress=progress,
                        layouts=str(recipe.get("layouts", "rooms")))
    options = BagEvalOptions(image_topic=COMPRESSED_TOPIC, depth_topic=DEPTH_TOPIC, info_topic=INFO_TOPIC, progress=progress)
    result = evaluate_bag(bag, [("demo model", predictor)], options)
    paths = write_report(result, report_dir)
    print(f"bag-eval on {bag} ({frames} synthetic 480x640 frames, JPEG + 16UC1 ground truth, MCAP), {predictor.resolution}:")
    print(format_metrics_table(result.models[0].accumulator.compute()))
    print(f"wrote {paths['report']} (open it in a browser) and {paths['metrics']}")


