"""The ``finetune:`` config section: start a run from a trained student instead of from scratch.

Any training config can use it (``python -m training.train --set finetune.init_checkpoint=...``);
``disdepth finetune`` writes it. Besides the weights, small recordings need one more thing:
BatchNorm statistics estimated from batches of 8 near-identical frames are noise, so
``freeze_batchnorm`` keeps the statistics the model was trained with (BatchNorm layers stay in
eval mode; their scale and shift still learn).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FinetuneConfig:
    """Where the student's weights come from, and whether its BatchNorm statistics stay (see above)."""

    # A released student or a training checkpoint; its student weights start the run (the
    # architecture in ``model:`` must be the checkpoint's). Empty: train from scratch.
    init_checkpoint: str = ""
    # Keep the BatchNorm running statistics of the starting model (BatchNorm layers in eval mode).
    freeze_batchnorm: bool = False
