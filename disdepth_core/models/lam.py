"""Loss attention module (LAM, paper section 3.4): which pixels of an acclimated feature matter.

The paper: LAM sits between the acclimated teacher feature and the ghost decoder, is trained by
the (ghost-)teacher's task loss, is "designed with a cross-attention layer", "uses the average of
input feature as the query to capture the importance of each pixel, then the output feature is
weighted by the importance scores", and "the scores ... are also returned to compute the
distillation loss". Useless regions should get weight ~0, important ones large weights.

For one stage with acclimated feature ``A`` (``[B, C, H, W]``, ``N = H*W`` pixels) and ``h`` heads
of width ``d = C/h``::

    q      = W_q · mean_x LN(A(x))                      one query per image   [B, h, d]
    k(x)   = W_k · LN(A(x))                             one key per pixel     [B, h, N, d]
    a_j(x) = softmax_x( q_j · k_j(x) / sqrt(d) )        cross-attention map   [B, h, N]
    M(x)   = N · mean_j a_j(x)                          importance, mean 1    [B, 1, H, W]
    output = A ⊙ M                                      what the ghost decoder reads

Choices and why:

- **Query = projected spatial mean** (the text): the image's global summary asks every pixel
  how much it contributes; that is a cross-attention of one query over N keys.
- **Softmax over pixels**: pixels compete for importance, so the module can drive useless
  regions to ~0 (the paper's "multiply a zero weight") instead of saturating everything at 1
  as independent sigmoid gates could.
- **Scaled by N**: a softmax sums to 1, so its raw values (~1/N) would shrink the feature by
  four orders of magnitude at stride 4. Scaling by N makes the weights average exactly 1:
  the ghost decoder sees features of the usual magnitude.
- **Not bounded above, normalised in the KD loss** (the scale review): the text wants useless
  pixels at zero and important ones "large", and a softmax that can concentrate is how a
  cross-attention says so, so M may reach N (one pixel). What must not follow LAM's sharpness
  is the KD term's size: squared, M would scale it by ``mean(M^2)``, 1 (uniform) to N, so
  :func:`.kd.attentive_kd_loss` rescales the scores to unit root-mean-square per image
  (``M' = M / rms(M)``): LAM moves the imitation budget between pixels, lambda alone sets it.
  At initialisation M stays within about [0.5, 2] (tested), so both forms agree there.
- **Heads averaged to one map per pixel**: the paper's scores are "the importance of each
  pixel", one scalar per location, shared by all channels in the KD loss.
- **No value projection**: a standard cross-attention would return ``sum_x a(x) V(x)``, one
  vector per image; the paper instead uses the attention map itself to weight the feature.
- **Near-identity start**: default-initialised ``W_q, W_k`` give small logits, so M ~= 1 and
  LAM initially passes the acclimated feature through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .fam import pick_num_heads


class LossAttention(nn.Module):
    """One stage's LAM: ``forward(A) -> (A * M, M)`` with M ``[B,1,H,W]`` averaging 1 per image."""

    def __init__(self, channels: int, head_dim: int = 32) -> None:
        super().__init__()
        self.num_heads = pick_num_heads(channels, head_dim)
        self.norm = nn.LayerNorm(channels)
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)

    def forward(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, channels, height, width = feature.shape
        heads, dim = self.num_heads, channels // self.num_heads
        tokens = self.norm(feature.flatten(2).transpose(1, 2))  # [B, N, C]
        q = self.query(tokens.mean(dim=1)).reshape(batch, heads, 1, dim)
        k = self.key(tokens).reshape(batch, height * width, heads, dim).transpose(1, 2)  # [B, h, N, d]
        logits = torch.matmul(q, k.transpose(-1, -2)).squeeze(2) / dim**0.5  # [B, h, N]
        attention = torch.softmax(logits.float(), dim=-1).to(feature.dtype)
        scores = (height * width) * attention.mean(dim=1)
        scores = scores.reshape(batch, 1, height, width)
        return feature * scores, scores


class LossAttentionModules(nn.Module):
    """One :class:`LossAttention` per stage; returns weighted features and their score maps."""

    def __init__(self, channels: Sequence[int], head_dim: int = 32) -> None:
        super().__init__()
        self.stages = nn.ModuleList(LossAttention(c, head_dim) for c in channels)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        weighted, scores = [], []
        for module, feature in zip(self.stages, features):
            out, score = module(feature)
            weighted.append(out)
            scores.append(score)
        return weighted, scores
