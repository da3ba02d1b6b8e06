"""Training configs: strict parsing, inheritance, overrides, and every shipped config loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training.train_config import DistillConfig, load_train_config, train_config_from_dict
from disdepth_core.config_parsing import ConfigError

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
    with pytest.raises(ValueError, match="unknown key 'optimiser' in the top level; did you mean 'optim'"):
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


@pytest.mark.parametrize("section,key,hint", [("optim", "lerning_rate", None), ("optim", "lrr", "lr"), ("distill", "kd_wieght", "kd_weight"),
                                              ("model", "backbon", "backbone"), ("model.head", "nbins", "n_bins")])
def test_unknown_keys_name_the_closest_valid_key(tmp_path, section, key, hint):
    data = _base(tmp_path)
    node = data
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = 1
    with pytest.raises(ConfigError, match=f"unknown key '{key}' in '{section}'") as err:
        train_config_from_dict(data)
    if hint:
        assert f"did you mean '{hint}'" in str(err.value)


@pytest.mark.parametrize("override,message", [
    ("optim.lr=abc", "optim.lr must be a number, got 'abc' (text) (from --set optim.lr=abc)"),
    ("optim.epochs=2.5", "optim.epochs must be an integer, got 2.5"),
    ("optim.amp=1", "optim.amp must be true or false"),
    ("distill.enabled=maybe", "distill.enabled must be true or false"),
    ("model.lg.stages=[1, x]", "model.lg.stages[1] must be an integer"),
    ("optim=3", "optim must be a mapping"),
    ("optim.lr.x=1", "optim.lr must be a number"),
    ("optim.lr=[", "optim.lr must be a number, got '[' (text)"),
])
def test_set_values_are_type_checked_with_one_line_errors(tmp_path, override, message):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_base(tmp_path)))
    with pytest.raises(ConfigError) as err:
        load_train_config(tmp_path / "c.yaml", [override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_distill_section_defaults_off_and_round_trips(tmp_path):
    cfg = train_config_from_dict(_base(tmp_path))
    assert cfg.distill == DistillConfig() and cfg.distill.enabled is False
    assert (cfg.distill.kd_weight, cfg.distill.kd_start_epoch) == (0.05, 7)  # paper section 4 / Table 6
    cfg2 = train_config_from_dict({**_base(tmp_path), "distill": {"enabled": True, "kd_weight": 1}})
    assert cfg2.distill.enabled and isinstance(cfg2.distill.kd_weight, float)
    again = train_config_from_dict(cfg2.to_dict())
    assert again == cfg2 and isinstance(again.model.lg.stages, tuple)
    assert yaml.safe_load(yaml.safe_dump(cfg2.to_dict())) == cfg2.to_dict()  # plain types only


def test_required_dataset_keys_and_dataset_validation_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="data.data_root is required"):
        train_config_from_dict({"data": {"name": "folder"}})
    with pytest.raises(ConfigError, match="unknown dataset name"):
        train_config_from_dict({"data": {"name": "kity", "data_root": "x"}})


def test_exponent_notation_without_a_dot_is_a_number(tmp_path):
    """PyYAML (YAML 1.1) reads 1e-4 as text; a learning rate written that way must still work."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_base(tmp_path)) + "optim: {lr: 1e-4}\n")
    assert yaml.safe_load((tmp_path / "c.yaml").read_text())["optim"]["lr"] == "1e-4"
    assert load_train_config(tmp_path / "c.yaml").optim.lr == 1e-4
    assert load_train_config(tmp_path / "c.yaml", ["optim.weight_decay=5e-3"]).optim.weight_decay == 5e-3
    with pytest.raises(ConfigError, match="optim.lr must be a finite number, got nan"):  # issue 20: not "text"
        load_train_config(tmp_path / "c.yaml", ["optim.lr=nan"])
