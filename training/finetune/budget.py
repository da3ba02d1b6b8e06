"""``--minutes``: how long one training step takes here, measured on the run's own model and data.

The LR schedule needs the number of iterations before the first step, so a time budget is turned
into iterations up front (and written to ``DIR/config.yaml``, so ``--resume`` continues the same
schedule). One untimed step warms up the allocator and kernels; the median of three timed steps
(data, forward, backward, AdamW) is the estimate.
"""

from __future__ import annotations

import statistics
import time


def seconds_per_step(cfg, device: str = "auto", steps: int = 3) -> float:
    """Median wall time of a training step of ``cfg`` (a throwaway copy of the model and optimiser)."""
    import torch
    from torch.utils.data import default_collate

    from disdepth_core.data.depth_dataset import build_dataset
    from training.distributed import resolve_device
    from training.modules import build_training_module

    target = resolve_device(device)
    module = build_training_module(cfg).to(target).train()
    optimizer = torch.optim.AdamW(module.param_groups(cfg.optim))
    dataset = build_dataset(cfg.data, "train", seed=cfg.seed)
    terms = module.loss_terms()
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        items = [dataset[(step * cfg.optim.batch_size + i) % len(dataset)] for i in range(cfg.optim.batch_size)]
        batch = {k: (v.to(target) if torch.is_tensor(v) else v) for k, v in default_collate(items).items()}
        outputs = module(batch)
        loss = sum(term.weight * term.fn(outputs, batch, 0) for term in terms)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if target.type == "cuda":
            torch.cuda.synchronize(target)
        if step:
            times.append(time.perf_counter() - start)
    return float(statistics.median(times))
