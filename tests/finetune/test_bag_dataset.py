"""The ``bag`` dataset: time split, frame cache, focal-consistent zoom, synthetic mix, and training.train on a bag."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.data.depth_dataset import build_dataset
from disdepth_core.data.frame_cache import GAP, HELDOUT, TRAIN, split_labels
from disdepth_core.rgbd_recording import RecordingError
from disdepth_core.data.scale_augment import zoom_crop
from disdepth_core.config_parsing import load_dataclass

from .helpers import TOPICS, tiny_bag


def bag_data(bag, cache, **recording) -> dict:
    return {"name": "bag", "data_root": str(cache), "train_height": 48, "train_width": 80, "eval_height": 64, "eval_width": 96,
            "recording": {"sources": [str(bag)], "image_topic": TOPICS.compressed, "depth_topic": TOPICS.depth, **recording}}


def dataset_config(bag, cache, **recording):
    from disdepth_core.data.dataset_config import DatasetConfig

    return load_dataclass(DatasetConfig, bag_data(bag, cache, **recording))


def test_split_is_contiguous_in_time_with_a_gap():
    labels = split_labels(50, 0.2)
    assert labels == [TRAIN] * 39 + [GAP] + [HELDOUT] * 10
    assert split_labels(400, 0.2).count(GAP) == 4 and split_labels(10, 0.0) == [TRAIN] * 10


def test_zoom_divides_depth_by_the_zoom_at_the_cameras_focal():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    plane = np.full((120, 160), 3.0, np.float32)  # a wall 3 m away
    for zoom in (0.8, 1.0, 1.5):
        out_rgb, out_depth, used = zoom_crop(rgb, plane, (48, 64), (0.5, 0.5), zoom, rng)
        assert out_rgb.shape == (48, 64, 3) and used == pytest.approx(zoom, rel=0.03)
        np.testing.assert_allclose(out_depth, 3.0 / used)  # seen 'used' times larger: 'used' times closer
    _, _, used = zoom_crop(rgb, plane, (48, 64), (0.5, 0.5), 0.3, rng)  # wider than the frame: clamped
    assert used == pytest.approx(48 / (0.5 * 120))


def test_a_window_clamped_on_one_axis_keeps_one_zoom_for_both():
    """Review finding: clamping the window per axis stretched the image (zoom 0.80 in y, 0.83 in x)."""
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (128, 192, 3), dtype=np.uint8)
    depth = np.full((128, 192), 2.0, np.float32)
    view_scale = (64 / 128, 96 / 192)  # the frame resized to a 64x96 model input at zoom 1
    for out_hw in ((48, 80), (56, 64), (64, 96)):
        for zoom in (0.5, 0.8, 1.3):
            _, out_depth, used = zoom_crop(rgb, depth, out_hw, view_scale, zoom, rng)
            win_h, win_w = out_hw[0] / (view_scale[0] * used), out_hw[1] / (view_scale[1] * used)
            assert win_h <= 128 + 1 and win_w <= 192 + 1  # the window fits the frame
            zoom_y = out_hw[0] / (view_scale[0] * round(win_h))
            assert zoom_y == pytest.approx(used, rel=0.03), (out_hw, zoom)  # no stretch between the axes
            assert used >= zoom * 0.97 and np.allclose(out_depth, 2.0 / used)  # raised, never lowered (but for rounding)


def test_cache_items_and_reuse(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=24, colour="jpeg")
    cfg = dataset_config(bag, tmp_path / "cache", zoom_min=0.8, zoom_max=1.5, samples_per_epoch=40)
    train = build_dataset(cfg, "train", seed=3)
    # 24 frames at 30 Hz (0.8 s): 17 train, a gap of 2 (the 1 s gap capped at 10 % of the frames), 5 held out
    assert len(train) == 40 and len(train.frames) == 17
    assert train.cache.size_hw == (96, 144)  # 2 x the 64x96 view, at most the recording's size
    assert train.reference_focal == pytest.approx(129.6 * 96 / 144)  # fx in network pixels of the 64x96 view
    assert train.camera_meta["camera"] == {"fx": pytest.approx(129.6), "fy": pytest.approx(129.6), "cx": 72.0, "cy": 48.0,
                                           "width": 144, "height": 96}
    item = train[5]
    assert tuple(item["image"].shape) == (3, 48, 80) and tuple(item["depth"].shape) == (1, 48, 80)
    again = build_dataset(cfg, "train", seed=3)[5]  # the same item: same pixels (seed, epoch, index)
    assert np.array_equal(item["image"].numpy(), again["image"].numpy())
    train.set_epoch(1)
    assert not np.array_equal(item["image"].numpy(), train[5]["image"].numpy())
    stamp = (tmp_path / "cache" / "frames.json").stat().st_mtime_ns
    held = build_dataset(cfg, "eval")
    assert (tmp_path / "cache" / "frames.json").stat().st_mtime_ns == stamp  # reused, not decoded again
    assert len(held) == 5 and tuple(held[0]["image"].shape) == (3, 64, 96)
    assert held.eval_frame(0)["crop_box"] == (0, 0, 64, 96) and held.eval_frame(0)["path"].endswith("#19")
    other = dataset_config(bag, tmp_path / "cache", val_fraction=0.5)
    assert len(build_dataset(other, "eval")) == 12  # another split: the cache is rebuilt


def test_synthetic_mix_draws_its_share_from_a_pool_at_the_recordings_focal(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=16, colour="jpeg")
    train = build_dataset(dataset_config(bag, tmp_path / "cache", synthetic_mix=0.25, synthetic_frames=8, samples_per_epoch=16),
                          "train")
    assert train.synthetic_count == 4 and train.synthetic_rgb.shape == (8, 96, 144, 3)
    names = [train[i]["path"] for i in range(16)]
    assert sum(name.startswith("synthetic#") for name in names) == 4


def test_several_recordings_each_hold_out_their_last_part_and_must_share_a_camera(tmp_path):
    from disdepth_core.data.dataset_config import DatasetConfig

    first, second = tiny_bag(tmp_path / "a", count=16, colour="jpeg"), tiny_bag(tmp_path / "b", count=16, colour="jpeg")
    data = bag_data(first, tmp_path / "cache")
    data["recording"]["sources"] = [str(first), str(second)]
    held = build_dataset(load_dataclass(DatasetConfig, data), "eval")
    assert [(f["source"], f["index"]) for f in (held.cache.frames[i] for i in held.frames)] == [
        (0, 12), (0, 13), (0, 14), (0, 15), (1, 12), (1, 13), (1, 14), (1, 15)]
    from disdepth_core.bags.rgbd_writer import write_rgbd_bag
    from disdepth_core.rgbd_recording import RgbdFrame

    from .helpers import room_frames

    other = [RgbdFrame(f.index, f.stamp_ns, f.rgb, f.depth, f.K * [[1.2], [1.2], [1]]) for f in room_frames(16)]
    data["recording"]["sources"] = [str(first), str(write_rgbd_bag(other, tmp_path / "c", colour="jpeg"))]
    data["data_root"] = str(tmp_path / "cache2")
    with pytest.raises(RecordingError, match="are from different cameras or settings; fine-tune on one camera at a time"):
        build_dataset(load_dataclass(DatasetConfig, data), "train")


def test_a_data_root_that_is_not_a_cache_is_never_replaced(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=16, colour="jpeg")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RecordingError, match="exists and is not a frame cache"):
        build_dataset(dataset_config(bag, tmp_path / "mine"), "train")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_too_few_frames_is_one_line(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=6, colour="jpeg")
    with pytest.raises(RecordingError) as err:
        build_dataset(dataset_config(bag, tmp_path / "cache"), "train")
    assert "has 6 usable RGB-D pairs (3 to train on, 2 held out); at least 8 + 2 are needed" in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_training_train_trains_on_a_bag(tmp_path):
    """Any training config can name the bag dataset: python -m training.train on a bag, end to end."""
    import yaml

    from training.train import main

    bag = tiny_bag(tmp_path / "bag", count=16, colour="jpeg")
    config = {"name": "bag_tiny", "data": bag_data(bag, tmp_path / "cache", zoom_min=0.8, zoom_max=1.25),
              "model": {"backbone": "ghostnet_100", "lg_conv": True, "head": {"n_bins": 32, "max_depth": 10.0}},
              "optim": {"batch_size": 4, "epochs": 1, "num_workers": 0, "max_iters_per_epoch": 2},
              "log": {"out_dir": str(tmp_path / "run"), "tensorboard": False, "image_every": 0}}
    path = tmp_path / "bag.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path), "--no-progress"]) == 0
    from disdepth_core.models.checkpoint import read_checkpoint

    meta = read_checkpoint(tmp_path / "run" / "last.pt")["meta"]
    assert meta["dataset"] == "bag" and meta["input_size"] == [64, 96] and meta["camera"]["width"] == 144
    assert meta["train_focal"] == pytest.approx(86.4)
    assert meta["metrics"]["n_images"] == 4  # validated on the held-out frames
