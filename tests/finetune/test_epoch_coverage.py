"""Every training frame of a recording is used when synthetic frames take part of each epoch."""

from __future__ import annotations

from pathlib import Path

from disdepth_core.data.depth_dataset import build_dataset

from .helpers import tiny_bag
from .test_bag_dataset import dataset_config


def test_synthetic_share_does_not_hide_the_last_training_frames(tmp_path):
    """Review finding: the per-epoch offset counted the synthetic items, so with one epoch = one pass
    (samples_per_epoch 0) the same real frames came every epoch and the last ones never."""
    bag = tiny_bag(tmp_path / "bag", count=16, colour="jpeg")
    train = build_dataset(dataset_config(bag, tmp_path / "cache", synthetic_mix=0.25, synthetic_frames=8), "train")
    assert 0 < train.synthetic_count < len(train)
    real_names = {train._name(i) for i in train.frames}
    seen: set[str] = set()
    for epoch in range(3):
        train.set_epoch(epoch)
        seen |= {train._train_source(i)[2] for i in range(train.synthetic_count, len(train))}
    assert seen == real_names


def _bag_config(tmp_path: Path, recording: dict, log: dict) -> Path:
    import yaml

    from .test_bag_dataset import bag_data

    bag = tiny_bag(tmp_path / "bag", count=16, colour="jpeg")
    config = {"name": "bag_tiny", "data": bag_data(bag, tmp_path / "cache", **recording),
              "model": {"backbone": "ghostnet_100", "lg_conv": True, "head": {"n_bins": 32, "max_depth": 10.0}},
              "optim": {"batch_size": 4, "epochs": 1, "num_workers": 0, "max_iters_per_epoch": 2},
              "log": {"out_dir": str(tmp_path / "run"), "tensorboard": False, "image_every": 0, **log}}
    path = tmp_path / "bag.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_recording_without_held_out_frames_still_writes_its_checkpoint(tmp_path):
    """Review finding: the checkpoint's input size came from the held-out split, so a run with
    ``val_fraction: 0`` (allowed) trained, then failed at its save and left nothing."""
    from disdepth_core.models.checkpoint import read_checkpoint
    from training.train import main

    path = _bag_config(tmp_path, {"val_fraction": 0.0}, {"val_every": 0})
    assert main(["--config", str(path), "--no-progress"]) == 0
    assert read_checkpoint(tmp_path / "run" / "last.pt")["meta"]["input_size"] == [64, 96]


def test_image_logging_keeps_batchnorm_frozen(tmp_path):
    """Review finding: the image logger switched the student back with its own ``train()``, which
    does not re-apply the fine-tuning's frozen BatchNorm."""
    import torch

    from training.train_config import load_train_config
    from training.trainer import Trainer

    path = _bag_config(tmp_path, {}, {"tensorboard": True, "image_every": 1})
    cfg = load_train_config(path, overrides=["finetune.freeze_batchnorm=true"])
    trainer = Trainer(cfg, progress=False)
    trainer.module.train()
    batch = next(iter(trainer.loader))
    trainer.log_images(batch)
    norms = [m for m in trainer.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(m.training for m in norms)
