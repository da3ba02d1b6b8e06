"""``--minutes``: how long one training step takes here, measured on the run's own model and data.

The LR schedule needs the number of iterations before the first step, so a time budget is turned
into iterations up front (and written to ``DIR/config.yaml``, so ``--resume`` continues the same
schedule). One untimed step warms up the allocator and kernels; the median of three timed steps
(data, forward, backward, AdamW: the trainer's own step) is the estimate.
"""

from __future__ import annotations

import statistics
import time


def seconds_per_step(cfg, device: str = "auto", steps: int = 3) -> float:
    """Median wall time of :meth:`training.trainer.Trainer.step` for ``cfg``, on a throwaway trainer
    (its own temporary folder): the very step the run will take, whatever the config turns on
    (AMP, clipping, distillation parts, the terms active at the first epoch)."""
    import dataclasses
    import tempfile

    import torch

    from training.trainer import Trainer

    with tempfile.TemporaryDirectory(prefix="disdepth-step-timing-") as tmp:
        log = dataclasses.replace(cfg.log, out_dir=tmp, tensorboard=False)
        trainer = Trainer(dataclasses.replace(cfg, log=log), device=device, progress=False)
        trainer.module.train()
        batches = trainer.batches()
        times = []
        for step in range(steps + 1):
            start = time.perf_counter()
            batch = next(batches)
            if batch is None:  # the data failed to load: the run itself would stop with this error
                raise trainer.data_error
            trainer.step(batch, 0)
            if trainer.dist.device.type == "cuda":
                torch.cuda.synchronize(trainer.dist.device)
            if step:
                times.append(time.perf_counter() - start)
    return float(statistics.median(times))
