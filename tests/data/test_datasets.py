"""Datasets built on the fly: KITTI/NYU/folder layouts, geometry, scaling, errors, seeding, config."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from disdepth_core.config_parsing import load_dataclass
from disdepth_core.data.dataset_config import DatasetConfig
from disdepth_core.data.depth_dataset import DepthDataset, build_dataset
from disdepth_core.runtime.normalization import IMAGENET_MEAN, IMAGENET_STD

KITTI_FOCAL = 721.5377
NYU_FOCAL = 518.8579


def _pattern(h: int, w: int) -> np.ndarray:
    """Asymmetric integer pattern 1..200 shared by image (grey level) and depth (metres)."""
    y, x = np.mgrid[0:h, 0:w]
    return ((x + 3 * y) % 200 + 1).astype(np.int64)


def _denormalise(image: torch.Tensor) -> np.ndarray:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return np.rint(((image * std + mean) * 255.0).numpy()).astype(np.int64)


@pytest.fixture()
def kitti(tmp_path: Path) -> dict[str, Path]:
    """Two KITTI-format frames (375x1242) plus one frame without ground truth."""
    raw, gt = tmp_path / "raw", tmp_path / "gt"
    lines = []
    pattern = _pattern(375, 1242)
    for i in range(3):
        img_rel = f"2011_09_26/2011_09_26_drive_0002_sync/image_02/data/{i:010d}.png"
        (raw / img_rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(raw / img_rel), np.repeat(pattern.astype(np.uint8)[..., None], 3, axis=2))
        if i == 2:
            lines.append(f"{img_rel} None {KITTI_FOCAL}")
            continue
        depth_rel = f"2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/{i:010d}.png"
        (gt / depth_rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(gt / depth_rel), (pattern * 256 + i).astype(np.uint16))
        lines.append(f"{img_rel} {depth_rel} {KITTI_FOCAL}")
    split = tmp_path / "kitti_split.txt"
    split.write_text("# kitti test\n" + "\n".join(lines) + "\n")
    return {"raw": raw, "gt": gt, "split": split}


def _kitti_cfg(paths: dict[str, Path], **overrides) -> DatasetConfig:
    base = dict(data_root=str(paths["raw"]), gt_root=str(paths["gt"]), train_split=str(paths["split"]),
                test_split=str(paths["split"]))
    base.update(overrides)
    return DatasetConfig(name="kitti", **base)


def _train(cfg: DatasetConfig, seed: int = 0) -> DepthDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_dataset(cfg, "train", seed)


@pytest.fixture()
def nyu(tmp_path: Path) -> dict[str, Path]:
    """NYU sync layout for training and a separate official-test root, 480x640 jpg + uint16 png."""
    rng = np.random.default_rng(0)
    roots = {"sync": tmp_path / "sync", "test": tmp_path / "official" / "test"}
    for key, root in roots.items():
        (root / "bathroom").mkdir(parents=True)
        lines = []
        for i in range(2):
            cv2.imwrite(str(root / f"bathroom/rgb_{i:05d}.jpg"), rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
            depth = rng.integers(0, 10000, (480, 640)).astype(np.uint16)
            cv2.imwrite(str(root / f"bathroom/sync_depth_{i:05d}.png"), depth)
            lines.append(f"bathroom/rgb_{i:05d}.jpg bathroom/sync_depth_{i:05d}.png {NYU_FOCAL}")
        (tmp_path / f"nyu_{key}.txt").write_text("\n".join(lines) + "\n")
    return {"sync": roots["sync"], "test": roots["test"], "train_split": tmp_path / "nyu_sync.txt",
            "test_split": tmp_path / "nyu_test.txt"}


def _nyu_cfg(paths: dict[str, Path], **overrides) -> DatasetConfig:
    base = dict(data_root=str(paths["sync"]), test_data_root=str(paths["test"]),
                train_split=str(paths["train_split"]), test_split=str(paths["test_split"]))
    base.update(overrides)
    return DatasetConfig(name="nyu", **base)


# --------------------------------------------------------------------------- KITTI

def test_kitti_eval_kb_crop_and_full_gt(kitti: dict[str, Path]) -> None:
    ds = build_dataset(_kitti_cfg(kitti), "eval")
    assert len(ds) == 3
    item = ds[1]
    assert tuple(item["image"].shape) == (3, 352, 1216)
    assert tuple(item["depth"].shape) == (1, 375, 1242)
    assert item["crop_box"].dtype == torch.long
    assert item["crop_box"].tolist() == [23, 13, 352, 1216]
    pattern = _pattern(375, 1242)
    expected = ((pattern * 256 + 1).astype(np.float32) / np.float32(256))
    np.testing.assert_array_equal(item["depth"][0].numpy(), expected)  # exact /256
    np.testing.assert_array_equal(_denormalise(item["image"])[0], pattern[23:375, 13:1229])
    assert item["focal"] == pytest.approx(KITTI_FOCAL) and item["has_gt"] is True and item["index"] == 1
    assert item["path"].endswith("0000000001.png")


def test_kitti_eval_none_depth_gives_zero_map(kitti: dict[str, Path]) -> None:
    item = build_dataset(_kitti_cfg(kitti), "eval")[2]
    assert item["has_gt"] is False
    assert tuple(item["depth"].shape) == (1, 375, 1242) and float(item["depth"].abs().sum()) == 0.0


def test_kitti_train_skips_missing_gt_and_crops(kitti: dict[str, Path]) -> None:
    with pytest.warns(UserWarning, match="1 of 3 lines"):
        ds = build_dataset(_kitti_cfg(kitti), "train")
    assert len(ds) == 2
    item = ds[0]
    assert tuple(item["image"].shape) == (3, 352, 704) and tuple(item["depth"].shape) == (1, 352, 704)
    assert "crop_box" not in item
    original = set(np.unique(_pattern(375, 1242).astype(np.float32))) | {0.0}
    assert set(np.unique(item["depth"].numpy())) <= original  # rotation used nearest neighbour
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert tuple(batch["image"].shape) == (2, 3, 352, 704)


def test_kitti_train_image_and_depth_stay_aligned(kitti: dict[str, Path]) -> None:
    ds = _train(_kitti_cfg(kitti, do_random_rotate=False, color_aug=False))
    flipped_seen = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        item = ds[0]
        grey = _denormalise(item["image"])[0]
        np.testing.assert_array_equal(grey, item["depth"][0].numpy().astype(np.int64))
        # The pattern increases to the right; a flipped crop decreases (except at wrap-around).
        flipped_seen.add(bool(np.median(np.diff(grey[0])) < 0))
    assert flipped_seen == {True, False}


def test_reproducible_by_seed_and_different_across_epochs(kitti: dict[str, Path]) -> None:
    cfg = _kitti_cfg(kitti)
    a, b, other_seed = _train(cfg, seed=7), _train(cfg, seed=7), _train(cfg, seed=8)
    first = a[0]
    assert torch.equal(first["image"], b[0]["image"]) and torch.equal(first["depth"], b[0]["depth"])
    assert not torch.equal(first["image"], other_seed[0]["image"])
    a.set_epoch(1)
    assert not torch.equal(first["image"], a[0]["image"])
    a.set_epoch(0)
    assert torch.equal(first["image"], a[0]["image"])


def test_kitti_resize_scale(kitti: dict[str, Path]) -> None:
    cfg = _kitti_cfg(kitti, resize_scale=0.5)
    assert (cfg.train_height, cfg.train_width) == (176, 352)
    item = build_dataset(cfg, "eval")[0]
    assert tuple(item["image"].shape) == (3, 176, 608)
    assert tuple(item["depth"].shape) == (1, 188, 621)
    assert item["crop_box"].tolist() == [12, 6, 176, 608]
    assert item["focal"] == pytest.approx(KITTI_FOCAL / 2)
    original = set(np.unique((_pattern(375, 1242) * 256).astype(np.float32) / 256)) | {0.0}
    assert set(np.unique(item["depth"].numpy())) <= original  # nearest-neighbour resize
    train_item = _train(cfg)[0]
    assert tuple(train_item["image"].shape) == (3, 176, 352)
    assert train_item["focal"] == pytest.approx(KITTI_FOCAL / 2)
    sized = build_dataset(_kitti_cfg(kitti, resize_scale=0.5, eval_height=160, eval_width=576), "eval")[0]
    assert sized["crop_box"].tolist() == [28, 22, 160, 576]
    assert tuple(sized["image"].shape) == (3, 160, 576)


def test_train_crop_larger_than_kb_region_is_rejected(kitti: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        _train(_kitti_cfg(kitti, train_height=384, train_width=704))


def test_missing_image_error_names_path_and_split_line(kitti: dict[str, Path], tmp_path: Path) -> None:
    split = tmp_path / "broken_split.txt"
    good = kitti["split"].read_text().splitlines()[1]
    split.write_text(good + "\n2011_09_26/missing_frame.png None 721.5\n")
    ds = build_dataset(_kitti_cfg(kitti, test_split=str(split)), "eval")
    with pytest.raises(FileNotFoundError) as info:
        ds[1]
    message = str(info.value)
    assert "missing_frame.png" in message and "broken_split.txt" in message and "line 2" in message


def test_bad_depth_file_error_names_file_and_line(kitti: dict[str, Path], tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "bad_depth.png"), np.zeros((375, 1242), np.uint8))
    img_rel = kitti["split"].read_text().splitlines()[1].split()[0]
    split = tmp_path / "s.txt"
    split.write_text(f"{img_rel} {tmp_path / 'bad_depth.png'} 721.5\n")
    ds = build_dataset(_kitti_cfg(kitti, test_split=str(split)), "eval")
    with pytest.raises(ValueError) as info:
        ds[0]
    message = str(info.value)
    assert "bad_depth.png" in message and "uint8" in message and "s.txt line 1" in message


# --------------------------------------------------------------------------- NYU

def test_nyu_eval_full_frame_from_test_root(nyu: dict[str, Path]) -> None:
    cfg = _nyu_cfg(nyu)
    assert (cfg.max_depth, cfg.depth_scale, cfg.eval_crop, cfg.rotate_degree) == (10.0, 1000.0, "nyu", 2.5)
    item = build_dataset(cfg, "eval")[1]
    assert tuple(item["image"].shape) == (3, 480, 640) and tuple(item["depth"].shape) == (1, 480, 640)
    assert item["crop_box"].tolist() == [0, 0, 480, 640]
    raw = cv2.imread(str(nyu["test"] / "bathroom/sync_depth_00001.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(item["depth"][0].numpy(), raw.astype(np.float32) / np.float32(1000))
    assert str(nyu["test"]) in item["path"]
    assert item["focal"] == pytest.approx(NYU_FOCAL)


def test_nyu_train_crop_and_values(nyu: dict[str, Path]) -> None:
    ds = _train(_nyu_cfg(nyu))
    item = ds[0]
    assert tuple(item["image"].shape) == (3, 416, 544) and tuple(item["depth"].shape) == (1, 416, 544)
    raw = cv2.imread(str(nyu["sync"] / "bathroom/sync_depth_00000.png"), cv2.IMREAD_UNCHANGED)
    original = set(np.unique(raw.astype(np.float32) / np.float32(1000)).tolist()) | {0.0}
    assert set(np.unique(item["depth"].numpy()).tolist()) <= original


def test_nyu_eval_size_takes_centred_crop(nyu: dict[str, Path]) -> None:
    item = build_dataset(_nyu_cfg(nyu, eval_height=448, eval_width=608), "eval")[0]
    assert item["crop_box"].tolist() == [16, 16, 448, 608]
    assert tuple(item["image"].shape) == (3, 448, 608)


def test_depth_and_image_size_mismatch_is_reported(nyu: dict[str, Path]) -> None:
    cv2.imwrite(str(nyu["test"] / "bathroom/sync_depth_00000.png"), np.ones((240, 320), np.uint16))
    with pytest.raises(ValueError, match="240x320.*line 1"):
        build_dataset(_nyu_cfg(nyu), "eval")[0]


# --------------------------------------------------------------------------- folder

def test_folder_dataset_with_config_focal(tmp_path: Path) -> None:
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"rgb/{i}.png"), np.full((60, 80, 3), 100, np.uint8))
        cv2.imwrite(str(tmp_path / f"depth/{i}.png"), np.full((60, 80), 1500, np.uint16))
    split = tmp_path / "folder.txt"
    split.write_text("0.png 0.png\n1.png 1.png 300\n")
    cfg = DatasetConfig(name="folder", data_root=str(tmp_path / "rgb"), gt_root=str(tmp_path / "depth"),
                                    train_split=str(split), test_split=str(split), focal=400.0)
    assert cfg.eval_crop is None and cfg.depth_scale == 1000.0
    ev = build_dataset(cfg, "eval")
    assert [ev[i]["focal"] for i in range(2)] == [400.0, 300.0]
    assert ev[0]["crop_box"].tolist() == [0, 0, 60, 80]
    assert float(ev[0]["depth"].max()) == 1.5
    tr = _train(cfg)[0]
    assert tuple(tr["image"].shape) == (3, 60, 80)  # train size 0 -> full image
    tr = _train(DatasetConfig(name="folder", data_root=str(tmp_path / "rgb"), gt_root=str(tmp_path / "depth"),
                                          train_split=str(split), focal=400.0, train_height=32, train_width=48))[1]
    assert tuple(tr["depth"].shape) == (1, 32, 48)


def test_build_dataset_rejects_bad_mode_and_missing_split(kitti: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="mode"):
        build_dataset(_kitti_cfg(kitti), "test")
    with pytest.raises(ValueError, match="test_split"):
        build_dataset(_kitti_cfg(kitti, test_split=""), "eval")


# --------------------------------------------------------------------------- config

def test_config_defaults_per_dataset() -> None:
    kitti = DatasetConfig(name="kitti", data_root="/d")
    assert (kitti.max_depth, kitti.depth_scale, kitti.eval_crop, kitti.rotate_degree) == (80.0, 256.0, "garg", 1.0)
    assert (kitti.train_height, kitti.train_width, kitti.min_depth, kitti.kb_crop) == (352, 704, 1e-3, True)
    assert DatasetConfig(name="kitti", data_root="/d", max_depth=50.0).max_depth == 50.0
    nyu = DatasetConfig(name="nyu", data_root="/sync", test_data_root="/test")
    assert (nyu.train_height, nyu.train_width) == (416, 544)
    assert nyu.image_root("train") == "/sync" and nyu.image_root("eval") == "/test"
    assert nyu.depth_root("train") == "/sync" and nyu.depth_root("eval") == "/test"
    k2 = DatasetConfig(name="kitti", data_root="/raw", gt_root="/gt")
    assert k2.image_root("eval") == "/raw" and k2.depth_root("eval") == "/gt"


def test_config_parsing_rejects_unknown_keys_and_round_trips() -> None:
    with pytest.raises(ValueError, match="max_dpeth"):
        load_dataclass(DatasetConfig, {"name": "kitti", "data_root": "/d", "max_dpeth": 80})
    with pytest.raises(ValueError, match="data_root"):
        load_dataclass(DatasetConfig, {"name": "kitti"})
    cfg = load_dataclass(DatasetConfig, {"name": "nyu", "data_root": "/d", "eval_crop": "none", "resize_scale": 0.5})
    assert cfg.eval_crop is None and (cfg.train_height, cfg.train_width) == (208, 272)
    assert load_dataclass(DatasetConfig, cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"name": "cityscapes"}, "unknown dataset"),
        ({"train_height": -1}, "train_height"),
        ({"train_height": 10, "train_width": 0}, "both"),
        ({"min_depth": 5.0, "max_depth": 5.0}, "smaller than max_depth"),
        ({"min_depth": 0.0}, "min_depth"),
        ({"depth_scale": 0.0}, "depth_scale"),
        ({"resize_scale": 0.0}, "resize_scale"),
        ({"eval_crop": "weird"}, "eval_crop"),
        ({"focal": -1.0}, "focal"),
        ({"data_root": ""}, "data_root"),
    ],
)
def test_config_validation(overrides: dict, needle: str) -> None:
    data = {"name": "kitti", "data_root": "/d"}
    data.update(overrides)
    with pytest.raises(ValueError, match=needle):
        load_dataclass(DatasetConfig, data)
