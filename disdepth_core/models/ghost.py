"""The ghost decoder (paper section 3.3): the student's decoder + heads, frozen for one branch.

"A ghost decoder, which is a continuous copy of the student's decoder throughout the entire
training period": the teacher's acclimated features are decoded by *the student's* decoder so
that the task loss shapes them into features that decoder can use, i.e. student-like features
that still carry the teacher's task knowledge. Hence:

- it runs the student's *current* ``decoder``, ``bin_centers`` and ``bin_probabilities`` modules
  and the very same code (:func:`disdepth_core.models.student.decode_depth`), so "a continuous
  copy" holds by construction: there is no second set of weights to copy, re-synchronise after
  every optimiser step, or store in checkpoints;
- it calls them through :func:`torch.func.functional_call` with the student's parameters
  **detached**: no loss through the ghost ever reaches the student's decoder (the teacher's task
  loss must not pull the student's decoder towards the teacher), yet gradients flow *through* it
  into the FAMs and LAMs that produce its input;
- buffers (BatchNorm running statistics, should the decoder or heads ever have any) follow the
  modules' train/eval mode exactly as the former frozen copy did: in eval mode the ghost reads
  the student's statistics; in train mode it normalises with batch statistics and its
  running-statistics update goes to a throw-away clone (the copy's update was overwritten by the
  next re-synchronisation), so the student's statistics never see the teacher's features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

from .student import DisDepthStudent, decode_depth

GHOST_MODULES = ("decoder", "bin_centers", "bin_probabilities")


def detached_call(module: nn.Module) -> Callable[..., torch.Tensor]:
    """``module``'s forward with its parameters detached and, in train mode, its buffers cloned."""
    state: dict[str, torch.Tensor] = {name: p.detach() for name, p in module.named_parameters()}
    # A train-mode BatchNorm updates the buffers it is given in place: hand it clones so the
    # student's running statistics stay untouched (eval mode only reads them).
    state.update({name: b.clone() if module.training else b for name, b in module.named_buffers()})

    def call(*args: object) -> torch.Tensor:
        return functional_call(module, state, args)

    return call


def ghost_decode(student: DisDepthStudent, features: Sequence[torch.Tensor],
                 output_size: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
    """The student's decoder + bins heads on ``features``, frozen: gradients reach ``features`` only.

    Same outputs as ``student.forward_head(features, output_size)`` (``depth``, ``bin_centers``,
    ``decoder_feature``), computed with detached student weights.
    """
    decoder, centers, probabilities = (detached_call(getattr(student, name)) for name in GHOST_MODULES)
    return decode_depth(decoder, centers, probabilities, features, output_size)
