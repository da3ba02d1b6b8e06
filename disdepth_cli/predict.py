"""Metric depth for an image, a folder of images or a video: 16-bit PNGs, previews, point clouds.

    disdepth predict INPUT --model MODEL [--out DIR] [--fx FX --fy FY --cx CX --cy CY]

For every frame it writes ``NAME_depth.png`` (uint16 millimetres, 0 = no depth: the usual
RGB-D convention), ``NAME_depth_color.png`` (a preview) and, when the intrinsics are given,
``NAME.ply`` (coloured points in the camera frame, metres) and depth rescaled for the focal
length (a monocular net reads depth from apparent size). Unreadable files in a folder are
skipped and counted; the ROS node's own frame pipeline is used (``disdepth_core.pipeline``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import numpy as np

from disdepth_core.runtime.loader import BACKEND_CHOICES

from . import UserError
from disdepth_core.arg_types import positive_int

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
FFMPEG_LOG_LEVEL, FFMPEG_QUIET = "OPENCV_FFMPEG_LOGLEVEL", "-8"  # AV_LOG_QUIET (16: errors, OpenCV's default)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="an image, a folder of images or a video file")
    parser.add_argument("--model", required=True, help="model file (.pt checkpoint, .onnx or .engine), e.g. models/demo/model.pt")
    parser.add_argument("--out", default="outputs/predict", help="output folder (default: outputs/predict)")
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, default=None, help=f"camera {name} in pixels of the input images")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help="runtime backend (auto: from the file type)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--every", type=positive_int, default=1, help="videos: use every N-th frame (>= 1, default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def intrinsics_from_args(args: argparse.Namespace) -> np.ndarray | None:
    """K from --fx/--fy/--cx/--cy: all four or none, checked by the node's camera_info rule
    (finite focal lengths > 0, a finite principal point) before anything loads."""
    from disdepth_core.pipeline import intrinsics_problem

    values = [args.fx, args.fy, args.cx, args.cy]
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        raise UserError("give all four intrinsics --fx --fy --cx --cy, or none")
    K = np.array([[args.fx, 0.0, args.cx], [0.0, args.fy, args.cy], [0.0, 0.0, 1.0]])
    problem = intrinsics_problem(K)
    if problem:
        raise UserError(f"--fx {args.fx:g} --fy {args.fy:g} --cx {args.cx:g} --cy {args.cy:g}: {problem}")
    return K


def read_rgb(path: Path) -> np.ndarray | None:
    """uint8 RGB of an image file (the datasets' reader), or None when it cannot be decoded."""
    from disdepth_core.data.io import read_rgb as read_image_rgb

    try:
        return read_image_rgb(path)
    except (ValueError, OSError):
        return None


def video_frames(path: Path, every: int) -> tuple[Iterator[tuple[str, np.ndarray]], int]:
    """(name, RGB) of every ``every``-th frame and the expected count (0 if unknown)."""
    import os

    # FFmpeg inside OpenCV prints its complaints (``[mov,mp4,... @ 0x...] moov atom not found``)
    # straight to file descriptor 2, before our one line. OpenCV reads this documented variable when
    # its FFmpeg backend starts (the first capture of the process): quiet, unless the user set it.
    os.environ.setdefault(FFMPEG_LOG_LEVEL, FFMPEG_QUIET)
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UserError(f"cannot open video {path} (not a video, or no codec for it in OpenCV; "
                        f"{FFMPEG_LOG_LEVEL}=16 shows FFmpeg's reason)")
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def frames() -> Iterator[tuple[str, np.ndarray]]:
        index = 0
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                if index % every == 0:
                    yield f"{path.stem}_{index:06d}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()

    return frames(), -(-total // every) if total > 0 else 0


def write_outputs(out_dir: Path, name: str, rgb: np.ndarray, depth: np.ndarray, K: np.ndarray | None,
                  min_depth: float, max_depth: float) -> int:
    """Depth PNG (mm), preview and (with K) PLY; returns the number of points written."""
    import cv2

    from disdepth_core.geometry import depth_to_millimetres, depth_to_points, write_ply
    from disdepth_core.visualize import colorize_depth

    millimetres = depth_to_millimetres(depth)
    if not cv2.imwrite(str(out_dir / f"{name}_depth.png"), millimetres):
        raise OSError(f"cannot write {out_dir / (name + '_depth.png')}")
    preview = colorize_depth(depth, min_depth, max_depth)
    cv2.imwrite(str(out_dir / f"{name}_depth_color.png"), cv2.cvtColor(preview, cv2.COLOR_RGB2BGR))
    if K is None:
        return 0
    xyz = depth_to_points(depth, K)
    return write_ply(out_dir / f"{name}.ply", xyz, rgb)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from disdepth_core.pipeline import FramePipeline, PipelineConfig

    from .files import require_file
    from .predict_outputs import check_predict_outputs, frame_names
    from .predictor_options import load_model_runtime

    source = Path(args.input)
    if not source.exists():
        raise FileNotFoundError(f"input not found: {source}")
    require_file(args.model, "model file")
    K = intrinsics_from_args(args)
    skipped: list[str] = []
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {source}")
        total, names = len(files), frame_names(files)
        shared = [f"{path.name} -> {name}_*" for path, name in zip(files, names) if name != path.stem]
        if shared:
            print(f"note: some images share a name, so their outputs are named apart: {', '.join(shared[:6])}"
                  + (" ..." if len(shared) > 6 else ""))

        def folder_frames() -> Iterator[tuple[str, np.ndarray]]:
            for path, name in zip(files, names):
                rgb = read_rgb(path)
                if rgb is None:
                    skipped.append(path.name)
                    continue
                yield name, rgb

        frames, show_bar = folder_frames(), True
    elif source.suffix.lower() in VIDEO_SUFFIXES:
        names = None
        frames, total = video_frames(source, args.every)
        show_bar = True
    else:
        rgb = read_rgb(source)
        if rgb is None:
            raise UserError(f"cannot read {source} as an image (unsupported or corrupt file)")
        names = [source.stem]
        frames, total, show_bar = iter([(source.stem, rgb)]), 1, False

    out_dir = check_predict_outputs(args.out, source, names)  # before the model loads
    runtime = load_model_runtime(args.model, args.backend, args.device)
    meta = runtime.metadata
    # The node's own frame path (resize, focal rescale with K, the model's depth range), built once.
    pipeline = FramePipeline(runtime)
    config = PipelineConfig(points=False, focal_rescale=K is not None)
    camera = None
    written = points = 0
    with runtime, tqdm(total=total or None, disable=args.no_progress or not show_bar, desc="predict", unit="frame") as bar:
        for name, rgb in frames:
            if K is not None:
                camera = (K, rgb.shape[:2])
            depth = pipeline.process_rgb(rgb, camera, config).depth
            if not written:  # created with the first result: a run that writes nothing leaves no empty --out
                out_dir.mkdir(parents=True, exist_ok=True)
            points += write_outputs(out_dir, name, rgb, depth, K, meta.min_depth, meta.max_depth)
            written += 1
            bar.update(1)
        bar.update(len(skipped))
    if skipped:
        shown = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        print(f"skipped {len(skipped)} unreadable file(s) of {total}: {shown}")
    if not written:
        raise UserError(f"no frame could be read from {source}")
    clouds = f", {points} points in PLY files" if K is not None else " (no PLY: pass --fx --fy --cx --cy for point clouds)"
    print(f"wrote depth for {written} frame(s) to {out_dir}{clouds}")
    return 0
