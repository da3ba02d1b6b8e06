"""``disdepth predict`` on images, folders and videos (real CLI, real torch runtime, small model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from disdepth_cli import main
from disdepth_core.synthetic.render import render_frame


def _write_images(folder, n: int) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = [render_frame("nyu", seed, 0, 60, 80).rgb for seed in range(n)]
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f"frame{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return frames


def _ply_count(path) -> int:
    header = path.read_bytes().split(b"end_header\n")[0].decode()
    return int(next(line.split()[-1] for line in header.splitlines() if line.startswith("element vertex")))


def test_folder_writes_mm_depth_previews_and_clouds_and_skips_unreadable(tmp_path, tiny_checkpoint, capsys):
    from disdepth_core.pipeline import FramePipeline, PipelineConfig
    from disdepth_core.runtime import load_runtime

    frames = _write_images(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "in" / "notes.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "out"
    K = ["--fx", "70", "--fy", "70", "--cx", "40", "--cy", "30"]
    assert main(["predict", str(tmp_path / "in"), "--model", str(tiny_checkpoint), "--out", str(out), "--no-progress", *K]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 unreadable file(s) of 3: broken.jpg" in printed
    assert "wrote depth for 2 frame(s)" in printed
    runtime = load_runtime(tiny_checkpoint, backend="torch", device="cpu")
    Kmat = np.array([[70.0, 0, 40], [0, 70.0, 30], [0, 0, 1]])
    for i, rgb in enumerate(frames):
        png = cv2.imread(str(out / f"frame{i}_depth.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (60, 80)
        expected = FramePipeline(runtime).process_rgb(rgb, (Kmat, rgb.shape[:2]), PipelineConfig(points=False, focal_rescale=True)).depth
        assert np.abs(png.astype(np.float64) - np.nan_to_num(expected) * 1000.0).max() <= 0.5 + 1e-3
        assert cv2.imread(str(out / f"frame{i}_depth_color.png")).shape == (60, 80, 3)
        assert _ply_count(out / f"frame{i}.ply") == int(np.isfinite(expected).sum()) > 0


def test_video_frames_without_intrinsics_give_no_ply(tmp_path, tiny_checkpoint, capsys):
    frames = [render_frame("nyu", 7, i, 64, 80).rgb for i in range(4)]
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (80, 64))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    out = tmp_path / "out"
    assert main(["predict", str(video), "--model", str(tiny_checkpoint), "--out", str(out), "--every", "2", "--no-progress"]) == 0
    assert sorted(p.name for p in out.glob("*_depth.png")) == ["clip_000000_depth.png", "clip_000002_depth.png"]
    assert not list(out.glob("*.ply"))
    assert "no PLY: pass --fx --fy --cx --cy" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["IMG"], "cannot read .* as an image"),
    (["IMG", "--fx", "500"], "give all four intrinsics"),
    (["MISSING"], "input not found"),
    (["EMPTY"], "no images"),
])
def test_user_errors_are_one_line(tmp_path, tiny_checkpoint, capsys, args, message):
    import re

    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "empty").mkdir()
    paths = {"IMG": str(tmp_path / "bad.png"), "MISSING": str(tmp_path / "nope.png"), "EMPTY": str(tmp_path / "empty")}
    argv = ["predict", *[paths.get(a, a) for a in args], "--model", str(tiny_checkpoint), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and err.startswith("error: ") and "Traceback" not in err
