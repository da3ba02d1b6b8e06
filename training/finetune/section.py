"""The ``finetune:`` config section: start a run from a trained student instead of from scratch.

Any training config can use it (``python -m training.train --set finetune.init_checkpoint=...``);
``disdepth finetune`` writes it. Small recordings need the two knobs besides the weights:
BatchNorm statistics estimated from batches of 8 near-identical frames are noise, so
``freeze_batchnorm`` keeps the trained statistics (layers in eval mode; their affine weights still
learn), and ``encoder_lr_mult`` moves the ImageNet/synthetic-trained encoder more slowly than the
decoder and bins heads that map its features to metric depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class FinetuneConfig:
    """Where the student's weights come from, and how gently they move (see the module docstring)."""

    # A released student or a training checkpoint; its student weights start the run (the
    # architecture in ``model:`` must be the checkpoint's). Empty: train from scratch.
    init_checkpoint: str = ""
    # Backbone learning rate = optim.lr x this; 0 freezes the backbone.
    encoder_lr_mult: float = 1.0
    # Keep the BatchNorm running statistics of the starting model (BatchNorm layers in eval mode).
    freeze_batchnorm: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.encoder_lr_mult) and self.encoder_lr_mult >= 0):
            raise ValueError(f"finetune.encoder_lr_mult must be >= 0, got {self.encoder_lr_mult!r}")
