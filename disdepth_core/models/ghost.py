"""The ghost decoder (paper section 3.3): a continuous, frozen copy of the student's decoder + heads.

"A ghost decoder, which is a continuous copy of the student's decoder throughout the entire
training period": the teacher's acclimated features are decoded by *the student's* decoder so
that the task loss shapes them into features that decoder can use, i.e. student-like features
that still carry the teacher's task knowledge. Hence:

- it is a deep copy of the student's ``decoder``, ``bin_centers`` and ``bin_probabilities``
  and runs the very same code (:func:`disdepth_core.models.student.decode_depth`);
- its parameters have ``requires_grad=False``: no loss ever updates it (the teacher's task loss
  must not pull the student's decoder towards the teacher), yet gradients flow *through* it
  into the FAMs and LAMs that produce its input;
- :meth:`sync_from` copies the student's current weights into it; the training module calls
  it after every optimiser step (and after loading a checkpoint), so at every forward pass the
  ghost equals the student's decoder exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from .student import DisDepthStudent, decode_depth


class GhostDecoder(nn.Module):
    """Frozen mirror of a student's decoder and bins heads."""

    def __init__(self, student: DisDepthStudent) -> None:
        super().__init__()
        self.decoder = copy.deepcopy(student.decoder)
        self.bin_centers = copy.deepcopy(student.bin_centers)
        self.bin_probabilities = copy.deepcopy(student.bin_probabilities)
        self.requires_grad_(False)

    def _pairs(self, student: DisDepthStudent) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.decoder, student.decoder), (self.bin_centers, student.bin_centers),
                (self.bin_probabilities, student.bin_probabilities)]

    @torch.no_grad()
    def sync_from(self, student: DisDepthStudent) -> None:
        """Copy the student's current decoder/head weights (and buffers) into the ghost."""
        for mine, theirs in self._pairs(student):
            for target, source in zip(mine.parameters(), theirs.parameters()):
                target.copy_(source)
            for target, source in zip(mine.buffers(), theirs.buffers()):
                target.copy_(source)

    def matches(self, student: DisDepthStudent) -> bool:
        """True when every ghost tensor equals the student's (what the contract tests assert)."""
        return all(torch.equal(a, b) for mine, theirs in self._pairs(student)
                   for a, b in zip(mine.state_dict().values(), theirs.state_dict().values()))

    def forward(self, features: Sequence[torch.Tensor], output_size: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
        return decode_depth(self.decoder, self.bin_centers, self.bin_probabilities, features, output_size)
