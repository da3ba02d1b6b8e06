"""Shared fixtures: small deterministic synthetic datasets in both on-disk formats.

Generated once per test session (the generator is deterministic and fast), so data,
training and evaluation tests all run on real files in the real KITTI/NYU layouts.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import pytest

# Keep the 2-core CI machine responsive when several torch-using tests run.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Spin-waiting OpenMP threads slow torch ~10x when the node subprocess competes for the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TORCH_INSTALLED = importlib.util.find_spec("torch") is not None

# The fast CPU path caches the ONNX it exports from a checkpoint (disdepth_core.export.cpu_fast_path):
# one cache per test session instead of the user's ~/.cache, shared with node subprocesses through the
# environment, so a checkpoint is exported once per session however many tests load it.
_OWN_CACHE = None if os.environ.get("DISDEPTH_CACHE_DIR") else tempfile.mkdtemp(prefix="disdepth-test-cache-")
if _OWN_CACHE:
    os.environ["DISDEPTH_CACHE_DIR"] = _OWN_CACHE


def pytest_sessionfinish(session, exitstatus) -> None:
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


def pytest_ignore_collect(collection_path: Path, config) -> Optional[bool]:
    """Without torch (``.venv-humble``, a robot) collect only modules marked ``torch_free``.

    The others import torch at module level and would be collection errors, which ``-m torch_free``
    cannot deselect; the marker line in the module itself is what decides.
    """
    if TORCH_INSTALLED or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if "pytest.mark.torch_free" not in collection_path.read_text(encoding="utf-8") else None


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """``ROOT/nyu`` (24 train + 6 test frames at 120x160) and ``ROOT/kitti`` (8 + 4 at 375x1242)."""
    from disdepth_core.synthetic.dataset_writer import generate_dataset

    root = tmp_path_factory.mktemp("synthetic")
    generate_dataset(root, "nyu", n_train=24, n_test=6, seed=3, height=120, width=160, frames_per_scene=6, progress=False)
    generate_dataset(root, "kitti", n_train=8, n_test=4, seed=3, frames_per_scene=4, progress=False)
    return root


def tiny_train_config(root: Path, out_dir: Path, **optim) -> dict:
    """A config mapping that trains a small student for a few iterations on the NYU-format data."""
    return {
        "name": "tiny",
        "seed": 0,
        "data": {
            "name": "folder",
            "data_root": str(root / "nyu" / "train"),
            "test_data_root": str(root / "nyu" / "test"),
            "train_split": str(root / "nyu" / "splits" / "train.txt"),
            "test_split": str(root / "nyu" / "splits" / "test.txt"),
            "train_height": 64,
            "train_width": 96,
            "max_depth": 10.0,
        },
        "model": {"backbone": "ghostnet_100", "lg_conv": True, "head": {"n_bins": 32, "max_depth": 10.0}},
        "optim": {"batch_size": 4, "epochs": 1, "num_workers": 0, "max_iters_per_epoch": 2, "lr": 1e-3, **optim},
        "loss": {"bins_weight": 0.1},
        "log": {"out_dir": str(out_dir), "log_every": 1, "image_every": 1},
    }


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A small random-weight student checkpoint with full metadata (fast to build and run)."""
    import torch

    from disdepth_core.models import build_model
    from disdepth_core.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_model("ghostnet_100", lg_conv=True, head={"n_bins": 32, "max_depth": 10.0})
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    meta = {"dataset": "nyu", "min_depth": 1e-3, "max_depth": 10.0, "train_focal": 259.4, "train_input_size": [64, 96],
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "config_name": "tiny"}
    save_checkpoint(path, model, model.cfg, meta)
    return path
