"""Issue 20, cause 2: every numeric training value is range-checked, from YAML and ``--set`` alike.

The table holds the issue's cases and others; the generated test pushes *every* numeric field
just outside its declared range, so a field added later is covered without a new line here,
and the inventory test refuses a numeric field that declares no range at all.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import types
import typing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from disdepth_core.config_parsing import ConfigError
from disdepth_core.value_ranges import declared_range
from training.train_config import TrainConfig, load_train_config

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

REPO = Path(__file__).resolve().parents[2]
NUMBERS = (int, float)


def _base(tmp: Path) -> dict:
    return {"data": {"name": "folder", "data_root": str(tmp), "train_split": "x.txt"}}


def _numeric_fields(cls: type, prefix: str = "") -> typing.Iterator[tuple[str, dataclasses.Field, type, bool]]:
    """(dotted path, field, number type, is a list) of every int/float field (also optional, or the
    items of a tuple/list) in the dataclass tree under ``cls``."""
    hints = typing.get_type_hints(cls)
    for fld in dataclasses.fields(cls):
        annotation = hints[fld.name]
        options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
        for option in (o for o in options if o is not type(None)):
            path = f"{prefix}{fld.name}"
            if dataclasses.is_dataclass(option):
                yield from _numeric_fields(option, path + ".")
            elif option in NUMBERS and option is not bool:
                yield path, fld, option, False
            elif typing.get_origin(option) in (tuple, list) and typing.get_args(option)[0] in NUMBERS:
                yield path, fld, typing.get_args(option)[0], True


FIELDS = list(_numeric_fields(TrainConfig))


def test_every_numeric_field_declares_a_range():
    assert len(FIELDS) >= 40, "the walk missed the nested sections"
    missing = [path for path, fld, _, _ in FIELDS if declared_range(fld) is None]
    assert not missing, f"numeric config fields without a declared range (use value_ranges.ranged): {missing}"


def test_defaults_are_inside_their_ranges(tmp_path):
    load_train_config_from(tmp_path, _base(tmp_path))  # every default, checked by the parser itself
    for path, fld, _, _ in FIELDS:
        default = fld.default
        if default is not None and default is not dataclasses.MISSING:
            values = default if isinstance(default, tuple) else (default,)
            assert all(declared_range(fld).contains(v) for v in values), f"{path} default {default!r} is out of its range"


def _outside(fld: dataclasses.Field, kind: type) -> object:
    """A value just outside the field's range (or a non-finite one for an unbounded float)."""
    bounds = declared_range(fld)
    step = 1 if kind is int else 0.5
    if bounds.low is not None:
        value = bounds.low if bounds.low_open else bounds.low - step
    elif bounds.high is not None:
        value = bounds.high if bounds.high_open else bounds.high + step
    else:
        value = math.inf
    return int(value) if kind is int else float(value)


def load_train_config_from(tmp: Path, data: dict, overrides: list[str] | None = None):
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_train_config(path, overrides or [])


def _set(data: dict, dotted: str, value: object) -> dict:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


@pytest.mark.parametrize("path,fld,kind,is_list", FIELDS, ids=[f[0] for f in FIELDS])
def test_every_numeric_field_refuses_a_value_outside_its_range(tmp_path, path, fld, kind, is_list):
    value = _outside(fld, kind)
    written = [value] if is_list else value
    with pytest.raises(ConfigError, match=rf"^{path}(\[0\])? must be (an integer|a finite number)"):
        load_train_config_from(tmp_path, _set(_base(tmp_path), path, written))
    text = yaml.safe_dump(written, default_flow_style=True).strip().removesuffix("...").strip()
    with pytest.raises(ConfigError, match=rf"\(from --set {path}="):
        load_train_config_from(tmp_path, _base(tmp_path), [f"{path}={text}"])


# The issue's cases and their one-line messages (YAML value, --set text).
CASES = [
    ("optim.lr", math.inf, "inf", "optim.lr must be a finite number > 0, got inf"),
    ("optim.lr", math.nan, "nan", "optim.lr must be a finite number, got nan"),
    ("optim.lr", -1, "-1", "optim.lr must be a finite number > 0, got -1"),
    ("optim.batch_size", 0, "0", "optim.batch_size must be an integer >= 1, got 0"),
    ("optim.max_iters_per_epoch", -5, "-5", "optim.max_iters_per_epoch must be an integer >= 0, got -5"),
    ("optim.epochs", -1, "-1", "optim.epochs must be an integer >= 1, got -1"),
    ("log.val_every", -1, "-1", "log.val_every must be an integer >= 0, got -1"),
    ("log.log_every", 0, "0", "log.log_every must be an integer >= 1, got 0"),
    ("optim.end_lr_ratio", 2.0, "2.0", "optim.end_lr_ratio must be a finite number from 0 to 1, got 2"),
    ("seed", -3, "-3", "seed must be an integer from 0 to 4294967295, got -3"),
    ("model.head.n_bins", 1, "1", "model.head.n_bins must be an integer >= 2, got 1"),
    ("model.lg.stages", [0, 9], "[0,9]", "model.lg.stages[1] must be an integer from 0 to 4, got 9"),
    ("data.resize_scale", 0.0, "0", "data.resize_scale must be a finite number > 0, got 0"),
    ("data.max_depth", -math.inf, "-.inf", "data.max_depth must be a finite number > 0, got -inf"),
]


@pytest.mark.parametrize("path,value,text,message", CASES, ids=[f"{c[0]}={c[2]}" for c in CASES])
def test_the_issue_cases_name_the_field(tmp_path, path, value, text, message):
    with pytest.raises(ConfigError) as from_yaml:
        load_train_config_from(tmp_path, _set(_base(tmp_path), path, value))
    assert str(from_yaml.value) == message
    with pytest.raises(ConfigError) as from_set:
        load_train_config_from(tmp_path, _base(tmp_path), [f"{path}={text}"])
    assert str(from_set.value) == f"{message} (from --set {path}={text})"


def test_the_commands_exit_2_with_one_line_before_any_work(tmp_path):
    """Through the real commands: python -m training.train and disdepth train, YAML and --set."""
    (tmp_path / "zero_batch.yaml").write_text(yaml.safe_dump(_set(_base(tmp_path), "optim.batch_size", 0)))
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(_base(tmp_path)))
    runs = [
        (["-m", "training.train", "--config", "ok.yaml", "--set", "optim.lr=inf"], "optim.lr must be a finite number > 0, got inf"),
        (["-m", "disdepth_cli", "train", "--config", "ok.yaml", "--set", "optim.epochs=-1"], "optim.epochs must be an integer >= 1"),
        (["-m", "disdepth_cli", "train", "--config", "zero_batch.yaml"], "optim.batch_size must be an integer >= 1, got 0"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("DISDEPTH_DEBUG", None)

    def run(argv):
        return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, [argv for argv, _ in runs]))
    for (argv, expected), out in zip(runs, results):
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (argv, out.stderr)
    assert not (tmp_path / "runs").exists()  # nothing was written
