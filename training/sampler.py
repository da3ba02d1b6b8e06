"""A training sampler that can resume in the middle of an epoch at the exact sample.

``RandomSampler``/``DistributedSampler`` can only restart an epoch from its beginning, so an
interrupted run either replays samples (more steps than planned, the optimiser and the LR
schedule drifting apart) or draws a different order. Here the order of epoch ``e`` is a pure
function of ``(seed, e)`` (a ``torch.randperm`` from a generator seeded with both), sharded
across ranks like ``DistributedSampler(drop_last=True)``, and :meth:`set_epoch` can skip the
first ``k`` batches. Resuming at ``(epoch, k)`` therefore yields exactly the samples the
uninterrupted run would have seen next. Augmentation is already a pure function of
``(seed, epoch, index)`` in :class:`~disdepth_core.data.depth_dataset.DepthDataset`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableEpochSampler(Sampler[int]):
    """Per-epoch deterministic permutation, one equal shard per rank, resumable at any batch."""

    def __init__(self, num_samples: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        # Every rank gets the same number of samples (the tail is dropped), so ranks step together.
        self.per_rank = self.num_samples // self.world_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.per_rank // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select epoch ``epoch``'s order and skip its first ``start_batch`` batches."""
        if start_batch < 0 or start_batch > self.batches_per_epoch:
            raise ValueError(f"start batch {start_batch} outside 0..{self.batches_per_epoch}")
        self.epoch = int(epoch)
        self.start_batch = int(start_batch)

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's full index order for ``epoch`` (before skipping)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + int(epoch))
        order = torch.randperm(self.num_samples, generator=generator)[: self.per_rank * self.world_size]
        return order[self.rank :: self.world_size].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order(self.epoch)[self.start_batch * self.batch_size :])

    def __len__(self) -> int:
        return self.per_rank - self.start_batch * self.batch_size
