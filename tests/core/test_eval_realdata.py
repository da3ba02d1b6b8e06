"""The real-frame evaluation (benchmarks/eval_realdata.py) on the real RGB-D frames in shared/realdata."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import realdata_root

ROOT = Path(__file__).resolve().parents[2]
REALDATA = realdata_root()
pytestmark = pytest.mark.skipif(REALDATA is None, reason="real frames not found: no shared/realdata above the repository "
                                                          "(set DISDEPTH_REALDATA to its folder)")


def _script():
    spec = importlib.util.spec_from_file_location("eval_realdata", ROOT / "benchmarks" / "eval_realdata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readers_decode_each_sets_depth_encoding():
    from disdepth_core.data.realdata import load_real_frames

    frames = {f.name: f for f in load_real_frames(REALDATA)}
    assert set(frames) == {"tum", "sun3d", "kinect_v2", "nyu_raw", "kitti_000008"}
    for frame in frames.values():
        assert frame.depth.shape == frame.rgb.shape[:2] and frame.rgb.dtype == np.uint8
    # README figures: valid fractions and ranges per set (wrong decodings land far outside these).
    expected = {"tum": (0.81, 1.5, 9.3), "sun3d": (0.82, 0.5, 10.0), "kinect_v2": (0.95, 0.5, 10.0), "kitti_000008": (0.037, 1.0, 80.0)}
    for name, (fraction, lo, hi) in expected.items():
        depth = frames[name].depth
        valid = depth[depth > 0]
        assert abs(valid.size / depth.size - fraction) < 0.01, name
        assert lo <= np.percentile(valid, 1) and np.percentile(valid, 99) <= hi, name
    nyu = frames["nyu_raw"]
    assert not nyu.registered and 1.0 < np.median(nyu.depth[nyu.depth > 0]) < 6.0


def test_table_of_the_indoor_demo_model_against_the_median_constant(tmp_path, capsys):
    module = _script()
    out = tmp_path / "real.json"
    assert module.main(["--model", str(ROOT / "models" / "demo" / "model.pt"), "--realdata", str(REALDATA), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| demo | tum |" in printed and "range check, not registered" in printed and "registered real frame(s)" in printed
    report = json.loads(out.read_text())
    rows = {r["frame"]: r for r in report["rows"]}
    assert set(rows) == {"tum", "sun3d", "kinect_v2", "nyu_raw"}  # the indoor model is not run on KITTI
    # Both baselines recomputed by hand: the frame oracle is the frame's own median, the set
    # constant one median over the registered frames' valid pixels (the unregistered NYU frame left out).
    from disdepth_core.data.realdata import load_real_frames

    frames = {f.name: f for f in load_real_frames(REALDATA)}
    valid = {k: f.depth[(f.depth > 1e-3) & (f.depth < 10.0)].astype(np.float64) for k, f in frames.items()}
    gt = valid["tum"]
    median = np.median(gt)
    set_median = np.median(np.concatenate([valid[k] for k in ("tum", "sun3d", "kinect_v2")]))
    assert rows["tum"]["gt_median"] == pytest.approx(median)
    assert rows["tum"]["oracle"]["abs_rel"] == pytest.approx(np.mean(np.abs(median - gt) / gt), rel=1e-6)
    assert rows["nyu_raw"]["set_median"] == rows["tum"]["set_median"] == pytest.approx(set_median, rel=1e-6)
    assert rows["tum"]["constant"]["abs_rel"] == pytest.approx(np.mean(np.abs(set_median - gt) / gt), rel=1e-5)
    summary = report["summary"][str(ROOT / "models" / "demo" / "model.pt")]
    assert summary["frames"] == 3
    assert summary["model"]["abs_rel"] == pytest.approx(np.mean([rows[k]["metrics"]["abs_rel"] for k in ("tum", "sun3d", "kinect_v2")]))
    assert summary["abs_rel_gain"] == pytest.approx(1 - summary["model"]["abs_rel"] / summary["constant"]["abs_rel"])
    assert summary["oracle"]["abs_rel"] < summary["constant"]["abs_rel"]  # the oracle knows each frame's scale


def test_outdoor_model_runs_on_the_kitti_frame_with_the_garg_crop(tmp_path):
    from disdepth_core.data.realdata import load_real_frames
    from disdepth_core.metrics import garg_crop_mask

    module = _script()
    rows = module.evaluate_model(ROOT / "models" / "demo_outdoor" / "model.pt", REALDATA)
    assert [r["frame"] for r in rows] == ["kitti_000008"]
    kitti = next(f for f in load_real_frames(REALDATA) if f.name == "kitti_000008")
    valid = (kitti.depth > 1e-3) & (kitti.depth < 80.0) & garg_crop_mask(*kitti.depth.shape)
    assert rows[0]["valid_pixels"] == int(valid.sum()) > 1000  # sparse LiDAR: only the projected points count
    assert rows[0]["gt_median"] == pytest.approx(float(np.median(kitti.depth[valid])))
