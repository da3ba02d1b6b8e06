"""Training configs: strict parsing, inheritance, overrides, and every shipped config loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training.config import load_train_config, train_config_from_dict

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_parses(path):
    cfg = load_train_config(path)
    assert cfg.model.head.max_depth == cfg.data.max_depth, "bins range must match the dataset's depth range"
    if not path.stem.startswith("synthetic"):
        # The paper's recipe (section 4).
        assert (cfg.optim.batch_size, cfg.optim.epochs, cfg.loss.silog_variance_focus, cfg.loss.silog_scale) == (8, 25, 0.85, 10.0)


def test_paper_configs_cover_the_students():
    names = {p.stem for p in CONFIGS}
    assert {f"{d}_{m}" for d in ("kitti", "nyu") for m in ("b0", "b3", "b5", "r18", "r50")} <= names


def _base(tmp_path):
    return {"data": {"name": "folder", "data_root": str(tmp_path), "train_split": "x.txt", "train_height": 32, "train_width": 32}}


@pytest.mark.parametrize("section,key", [("optim", "lerning_rate"), ("log", "outdir"), ("loss", "silog_lamda"), ("data", "resize")])
def test_unknown_keys_are_errors_naming_the_key(tmp_path, section, key):
    data = _base(tmp_path)
    data.setdefault(section, {})[key] = 1
    with pytest.raises(ValueError, match=key):
        train_config_from_dict(data)


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(ValueError, match="unknown top-level key.*optimiser"):
        train_config_from_dict({**_base(tmp_path), "optimiser": {}})


def test_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**_base(tmp_path), "optim": {"lr": 0.1, "epochs": 3}}))
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "optim": {"epochs": 5}}))
    cfg = load_train_config(tmp_path / "child.yaml", ["optim.batch_size=2", "model.head.n_bins=16"])
    assert (cfg.optim.lr, cfg.optim.epochs, cfg.optim.batch_size, cfg.model.head.n_bins) == (0.1, 5, 2, 16)
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="inheritance loop"):
        load_train_config(tmp_path / "loop.yaml")
    with pytest.raises(ValueError, match="not of the form"):
        load_train_config(tmp_path / "child.yaml", ["optim.lr"])
