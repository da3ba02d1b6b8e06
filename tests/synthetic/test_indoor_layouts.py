"""Opt-in realistic indoor layouts (corridors, small neutral rooms) and their threading to disk/CLI."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from disdepth_cli import main
from disdepth_core.synthetic.dataset_writer import generate_dataset
from disdepth_core.synthetic.render import render_scene
from disdepth_core.synthetic.scene_builder import LAYOUTS, build_scene, parse_layouts
from disdepth_core.synthetic.scenes import PLANE

pytestmark = pytest.mark.torch_free

H, W, F = 120, 160, 518.8579 / 4  # NYU intrinsics at quarter size


def _same_scene(a, b) -> bool:
    if len(a.primitives) != len(b.primitives) or not np.array_equal(a.path.origin, b.path.origin):
        return False
    return all(p.kind == q.kind and np.array_equal(p.center, q.center) and np.array_equal(p.half, q.half)
               and np.array_equal(p.material.colors, q.material.colors) for p, q in zip(a.primitives, b.primitives))


def test_default_rooms_are_unchanged_by_the_layouts_option():
    for seed in (0, 5, 123456789012):
        default = build_scene("nyu", seed)
        assert _same_scene(default, build_scene("nyu", seed, layouts="rooms"))
        assert (default.path.yaw, default.path.pitch) == (build_scene("nyu", seed, "rooms").path.yaw, build_scene("nyu", seed, "rooms").path.pitch)
    # in a mix, a scene that draws "rooms" is exactly the default room of that seed
    mixed = [s for s in range(20) if build_scene("nyu", s, "rooms,corridors,small_rooms").name_prefix != "corridor"]
    assert any(_same_scene(build_scene("nyu", s), build_scene("nyu", s, "rooms,corridors,small_rooms")) for s in mixed)


def test_mix_picks_every_layout_deterministically():
    picks = [build_scene("nyu", s, "rooms,corridors,small_rooms").name_prefix == "corridor" for s in range(30)]
    assert 3 < sum(picks) < 27
    assert parse_layouts(" corridors ,rooms,corridors") == ("corridors", "rooms")
    with pytest.raises(ValueError, match="valid layouts: rooms, corridors, small_rooms"):
        parse_layouts("corridors,bogus")
    with pytest.raises(ValueError, match="kind='nyu' only"):
        build_scene("kitti", 0, "corridors")


@pytest.mark.parametrize("seed", range(6))
def test_corridor_looks_far_along_a_narrow_corridor(seed):
    scene = build_scene("nyu", seed, "corridors")
    assert scene.name_prefix == "corridor" and len(scene.primitives) <= 34
    walls = [p for p in scene.primitives if p.kind == PLANE and abs(p.rotation[0, 2]) > 0.99 and np.isinf(p.half[0])]
    width = abs(walls[0].center[0] - walls[1].center[0])
    assert 1.6 <= width <= 3.0  # side walls at most 3 m apart, so within ~1.5 m of the middle
    depths = []
    for index in (0, 4):
        frame = render_scene(scene, index, H, W, F)
        d = frame.depth[frame.depth > 0]
        depths.append(d)
        assert frame.rgb.mean() > 40 and frame.rgb.std() > 5  # lit, textured, not inside a wall
        assert np.percentile(d, 95) > 6.0
        assert np.mean(frame.depth == 0) < 0.5
    again = render_scene(build_scene("nyu", seed, "corridors"), 4, H, W, F)
    assert np.array_equal(again.depth, frame.depth) and np.array_equal(again.rgb, frame.rgb)


def test_corridor_medians_are_far_on_average():
    medians = [np.median(render_scene(build_scene("nyu", s, "corridors"), 0, H, W, F).depth) for s in range(8)]
    assert np.mean(medians) > 2.0 and max(medians) > 3.0


def test_small_rooms_are_close_and_neutral():
    medians = []
    for seed in range(8):
        scene = build_scene("nyu", seed, "small_rooms")
        for wall in scene.primitives[2:6]:  # floor, ceiling, then the four walls
            c = wall.material.colors[0]
            assert (c.max() - c.min()) / c.max() < 0.3, c  # low saturation paint
        assert 0.3 <= scene.path.origin[1] <= 1.7
        frame = render_scene(scene, 2, H, W, F)
        medians.append(np.median(frame.depth[frame.depth > 0]))
    inside = np.mean([(1.0 <= m <= 4.5) for m in medians])
    assert inside >= 0.75, medians


def test_dataset_records_layouts_and_kitti_refuses(tmp_path):
    root = generate_dataset(tmp_path, "nyu", n_train=2, n_test=1, seed=3, height=24, width=32, frames_per_scene=1,
                            progress=False, layouts="corridors,small_rooms")
    assert yaml.safe_load((root / "meta.yaml").read_text())["layouts"] == "corridors,small_rooms"
    with pytest.raises(ValueError, match="kind='nyu' only"):
        generate_dataset(tmp_path / "k", "kitti", n_train=1, n_test=0, progress=False, layouts="corridors")
    default = generate_dataset(tmp_path / "d", "nyu", n_train=1, n_test=0, height=24, width=32, progress=False)
    assert yaml.safe_load((default / "meta.yaml").read_text())["layouts"] == "rooms"


def test_cli_layouts(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--out", str(tmp_path / "x"), "--dataset", "nyu", "--layouts", "corridors,bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --layouts" in err[0]  # one line, no usage dump
    assert "'bogus'" in err[0] and "valid layouts: rooms, corridors, small_rooms" in err[0]
    assert main(["synth", "--out", str(tmp_path / "k"), "--dataset", "kitti", "--layouts", "corridors"]) == 2
    assert "use it with --dataset nyu" in capsys.readouterr().err
    out = tmp_path / "mix"
    assert main(["synth", "--out", str(out), "--dataset", "nyu", "--train", "4", "--test", "2", "--size", "24x32",
                 "--frames-per-scene", "1", "--layouts", "rooms,corridors,small_rooms", "--no-progress"]) == 0
    meta = yaml.safe_load((out / "nyu" / "meta.yaml").read_text())
    assert meta["layouts"] == "rooms,corridors,small_rooms" and set(LAYOUTS) == set(meta["layouts"].split(","))
    assert len((out / "nyu" / "splits" / "train.txt").read_text().splitlines()) == 4
    assert len(list((out / "nyu").rglob("rgb_*.jpg"))) == 6
