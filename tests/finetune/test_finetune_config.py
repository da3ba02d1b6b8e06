"""The ``finetune:`` config section: start weights and frozen BatchNorm statistics."""

from __future__ import annotations

import pytest
import torch

from disdepth_core.data.depth_dataset import build_dataset
from tests.conftest import tiny_train_config
from training.train_config import train_config_from_dict
from training.modules import build_training_module


def _cfg(root, out, **finetune):
    data = tiny_train_config(root, out)
    data["finetune"] = finetune
    return train_config_from_dict(data)


def test_start_weights_and_frozen_batchnorm(synthetic_root, tiny_checkpoint, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path, init_checkpoint=str(tiny_checkpoint), freeze_batchnorm=True)
    module = build_training_module(cfg)
    start = torch.load(tiny_checkpoint, weights_only=True)["state_dict"]
    assert all(torch.equal(module.student.state_dict()[k], v) for k, v in start.items())
    module.train()
    norms = [m for m in module.student.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(m.training for m in norms) and module.student.decoder.training
    running = {k: v.clone() for k, v in module.student.state_dict().items() if "running_" in k}
    module(next(iter(torch.utils.data.DataLoader(build_dataset(cfg.data, "train"), batch_size=2))))
    assert all(torch.equal(module.student.state_dict()[k], v) for k, v in running.items())  # statistics kept
    default = build_training_module(_cfg(synthetic_root, tmp_path)).train()
    assert all(m.training for m in default.student.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


def test_wrong_architecture_names_the_keys(synthetic_root, tiny_checkpoint, tmp_path):
    data = tiny_train_config(synthetic_root, tmp_path)
    data["model"]["head"]["n_bins"] = 16
    data["finetune"] = {"init_checkpoint": str(tiny_checkpoint)}
    with pytest.raises(ValueError, match="does not match the model architecture; shape mismatch"):
        build_training_module(train_config_from_dict(data))
