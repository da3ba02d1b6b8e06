"""Local-global convolution (LG-Conv), DisDepth paper section 3.2.

A pretrained CNN sees only a local window per layer. LG-Conv adds, beside an existing
convolution, a cheap *global branch* built only from 1x1 convolutions, pooling and a
softmax, so it exports to ONNX/TensorRT as plain CNN ops:

1. ``Conv1x1 -> ReLU`` turns the input into a hidden local feature ``h`` (C channels).
2. ``h`` is concatenated with its global average (broadcast to every pixel) -> ``[h, mean(h)]``.
3. Multi-head spatial attention: a 1x1 conv predicts one logit map per head, softmax over all
   pixels, and each head's slice of ``h`` is aggregated into ONE vector (attention pooling).
4. Broadcast branch: a 1x1 conv + sigmoid predicts, per pixel and head, how much of the
   aggregated global vector that pixel should receive.
5. The gated global feature is projected to the wrapped conv's output width, passed through
   BatchNorm, and **added** to the local conv's output.

Choices where the paper is silent or its text was lost (and why):

- *Where the branch goes.* We wrap the output (projection) convolution of every residual
  block (``conv_pwl`` of inverted residuals, ``conv2``/``conv3`` of ResNet blocks, the primary
  conv of GhostNet's second ghost module). This keeps the block's interface unchanged, is
  what "beside the local convolution" allows without touching BatchNorm statistics of the
  pretrained path, and reproduces the paper's parameter overhead (B0: about +2 M).
- *Values of the aggregation* are the hidden local feature ``h`` itself (not the concat),
  split evenly across heads; the concat only drives the attention and gate predictions,
  which need both the local content and the image context.
- *Initial BN scale* is ``1e-3`` (configurable): the paper's number was lost in extraction;
  any small value keeps the pretrained features intact at step 0 (tested).
- *Strided convolutions*: the first 1x1 conv uses the wrapped conv's stride so the branch's
  output always matches the local output size.
"""

from __future__ import annotations

import torch
from torch import nn

from .model_config import LGConvConfig
from .fam import pick_num_heads


class _FoldedWeights:
    """Eval-mode constants of a :class:`GlobalBranch`, derived from its parameters and BN statistics.

    Recomputed whenever a parameter or buffer is replaced or modified in place (``load_state_dict``,
    ``.half()``, ``.to()``, an optimiser step), detected from each tensor's storage pointer,
    version counter, dtype and device.
    """

    def __init__(self, key: tuple, logits_h: torch.Tensor, logits_m: torch.Tensor, logits_b: torch.Tensor,
                 project: torch.Tensor, shift: torch.Tensor) -> None:
        self.key, self.logits_h, self.logits_m, self.logits_b = key, logits_h, logits_m, logits_b
        self.project, self.shift = project, shift


class GlobalBranch(nn.Module):
    """The attention-pool-and-broadcast branch, usable on its own (tests, other blocks).

    Two forward paths with the same maths. Training runs :meth:`forward_reference`, the
    textbook form above (BatchNorm needs batch statistics). Inference runs
    :meth:`forward_fused`, which regroups the same sums to launch far fewer kernels (the branch
    is launch-bound on GPUs) and to never materialise the two ``C x H x W`` temporaries:

    * ``conv1x1([h, mean(h)])`` = ``W_h h + (W_m mean(h) + b)``: the broadcast mean and the
      concat disappear, and the attention and gate convs become one matmul whose per-image
      bias is a tiny ``addmm``;
    * ``BN(project(pooled * gates))`` = ``(s * W_p pooled) @ gates + t``: the projection is
      applied to the pooled vectors (``heads x C/heads`` numbers) instead of to every pixel, and
      eval BatchNorm (scale ``s``, shift ``t``) folds into it; LG-Conv folds ``t`` into the local
      conv's bias and adds the branch with one ``baddbmm``.

    ``benchmarks/bench_lgconv.py`` prints the op counts and timings of both paths; the tests
    check they agree within float tolerance.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, cfg: LGConvConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or LGConvConfig()
        hidden = max(8, int(round(out_channels * cfg.hidden_ratio)))
        self.num_heads = pick_num_heads(hidden, max_heads=cfg.num_heads)
        self.hidden = hidden
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, hidden, 1, stride=stride, bias=True), nn.ReLU(inplace=True))
        self.attention = nn.Conv2d(2 * hidden, self.num_heads, 1)
        self.broadcast = nn.Conv2d(2 * hidden, self.num_heads, 1)
        self.project = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.norm.weight, cfg.bn_init_scale)
        nn.init.zeros_(self.norm.bias)
        self._folded: _FoldedWeights | None = None
        self.fused = True  # eval path; False runs forward_reference (benchmarks, tests)

    def use_fused(self) -> bool:
        """Fused only for inference: training needs batch statistics, and gradients to the weights
        cannot flow through the cached folded constants."""
        return self.fused and not self.training and not (torch.is_grad_enabled() and self.project.weight.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_fused():
            return self.forward_reference(x)
        return self.forward_fused(x)

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The branch exactly as described in the module docstring (used for training)."""
        hidden = self.reduce(x)
        batch, channels, height, width = hidden.shape
        context = torch.cat([hidden, hidden.mean(dim=(2, 3), keepdim=True).expand_as(hidden)], dim=1)
        heads = self.num_heads
        # [B, heads, 1, HW]: one attention distribution over pixels per head.
        weights = torch.softmax(self.attention(context).reshape(batch, heads, 1, height * width), dim=-1)
        values = hidden.reshape(batch, heads, channels // heads, height * width)
        pooled = torch.matmul(weights, values.transpose(2, 3))  # [B, heads, 1, C/heads]
        gates = torch.sigmoid(self.broadcast(context)).reshape(batch, heads, 1, height * width)
        spread = pooled.transpose(2, 3) * gates  # [B, heads, C/heads, HW]
        return self.norm(self.project(spread.reshape(batch, channels, height, width)))

    # -- inference path ---------------------------------------------------------------------
    def _state_key(self) -> tuple:
        tensors = [self.attention.weight, self.attention.bias, self.broadcast.weight, self.broadcast.bias, self.project.weight,
                   self.norm.weight, self.norm.bias, self.norm.running_mean, self.norm.running_var]
        return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors) + (self.norm.eps,)

    def folded(self) -> _FoldedWeights:
        """The eval constants (cached): logit weights on ``h`` and on ``mean(h)``, projection with the BN scale, BN shift."""
        key = self._state_key()
        if self._folded is not None and self._folded.key == key:
            return self._folded
        # Normal (not inference-mode) tensors, so later calls outside inference_mode can use them too.
        with torch.inference_mode(False), torch.no_grad():
            hidden, heads = self.hidden, self.num_heads
            logits = torch.cat([self.attention.weight, self.broadcast.weight]).flatten(1)  # [2*heads, 2*hidden]
            bias = torch.cat([self.attention.bias, self.broadcast.bias])
            scale = self.norm.weight / torch.sqrt(self.norm.running_var + self.norm.eps)
            shift = self.norm.bias - self.norm.running_mean * scale
            # project[o, c] * scale[o], regrouped per head: [heads, C/heads, out]
            project = (self.project.weight.flatten(1) * scale[:, None]).reshape(-1, heads, hidden // heads).permute(1, 2, 0)
            self._folded = _FoldedWeights(key, logits[:, :hidden].contiguous(), logits[:, hidden:].t().contiguous(), bias,
                                          project.contiguous(), shift)
        return self._folded

    def _gated_projection(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """``(M, gates, (H, W))`` with ``M @ gates`` = the branch output before the BN shift."""
        folded = self.folded()
        hidden = self.reduce(x)
        batch, channels, height, width = hidden.shape
        heads = self.num_heads
        flat = hidden.reshape(batch, channels, height * width)
        image_bias = torch.addmm(folded.logits_b, hidden.mean(dim=(2, 3)), folded.logits_m)  # [B, 2*heads]
        logits = torch.baddbmm(image_bias.unsqueeze(-1), folded.logits_h.expand(batch, -1, -1), flat)  # [B, 2*heads, HW]
        weights = torch.softmax(logits[:, :heads], dim=-1)  # [B, heads, HW]
        gates = torch.sigmoid(logits[:, heads:])  # [B, heads, HW]
        values = flat.reshape(batch, heads, channels // heads, height * width)
        # Attention pooling, one vector per head: [B, heads, 1, HW] @ [B, heads, HW, C/heads] -> [heads, B, C/heads]
        pooled = torch.matmul(weights.unsqueeze(2), values.transpose(2, 3)).squeeze(2).transpose(0, 1)
        # Projection (with the BN scale) of the pooled vectors: [heads, B, C/heads] @ [heads, C/heads, out] -> [B, out, heads].
        # The permuted result is a transposed matrix, which BLAS reads without a copy.
        mixed = torch.bmm(pooled, folded.project).permute(1, 2, 0)
        return mixed, gates, (height, width)

    def forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        """Same output as :meth:`forward_reference` with eval BatchNorm, in fewer kernels."""
        mixed, gates, (height, width) = self._gated_projection(x)
        shift = self.folded().shift
        out = torch.baddbmm(shift[None, :, None].expand(mixed.shape[0], -1, 1), mixed, gates)
        return out.reshape(mixed.shape[0], -1, height, width)

    def add_to(self, base: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``base + self(x)`` in eval mode, where ``base`` already contains the BN shift (see :class:`LGConv`)."""
        mixed, gates, _ = self._gated_projection(x)
        if torch.is_inference_mode_enabled() or not torch.is_grad_enabled():
            return base.flatten(2).baddbmm_(mixed, gates).reshape(base.shape)  # base is our own fresh conv output
        return torch.baddbmm(base.flatten(2), mixed, gates).reshape(base.shape)


class LGConv(nn.Module):
    """A pretrained convolution plus a :class:`GlobalBranch` whose output is added to it.

    In eval mode the branch's BatchNorm shift rides on the local conv's bias and the branch
    is added with one ``baddbmm`` (same sum, fewer kernels; see :class:`GlobalBranch`).
    """

    def __init__(self, local: nn.Conv2d, cfg: LGConvConfig | None = None) -> None:
        super().__init__()
        self.local = local
        stride = local.stride[0] if isinstance(local.stride, tuple) else int(local.stride)
        self.global_branch = GlobalBranch(local.in_channels, local.out_channels, stride, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.global_branch.use_fused() or type(self.local) is not nn.Conv2d:
            return self.local(x) + self.global_branch(x)
        shift = self.global_branch.folded().shift
        bias = shift if self.local.bias is None else self.local.bias + shift
        base = self.local._conv_forward(x, self.local.weight, bias)
        return self.global_branch.add_to(base, x)

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The unfused form (for tests and benchmarks)."""
        return self.local(x) + self.global_branch.forward_reference(x)


# timm block class name -> dotted path of the block's output convolution.
_OUTPUT_CONV_OF_BLOCK: dict[str, tuple[str, ...]] = {
    "DepthwiseSeparableConv": ("conv_pw",),
    "InvertedResidual": ("conv_pwl",),
    "EdgeResidual": ("conv_pwl",),
    "BasicBlock": ("conv2",),
    "Bottleneck": ("conv3",),
    "GhostBottleneck": ("ghost2.primary_conv.0",),
}


def _get(module: nn.Module, dotted: str) -> nn.Module | None:
    for part in dotted.split("."):
        if not hasattr(module, part):
            return None
        module = getattr(module, part)
    return module


def _set(module: nn.Module, dotted: str, value: nn.Module) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        module = getattr(module, part)
    setattr(module, last, value)


def block_stages(backbone: nn.Module, feature_modules: list[str]) -> dict[str, int]:
    """Map every module name of a timm ``features_only`` model to its feature stage.

    timm names the module that emits each feature (``feature_info.module_name()``). In
    pre-order (registration order, which is forward order for the supported CNNs) a module
    belongs to the first stage whose feature module, with all its children, ends at or after it.
    """
    names = [name for name, _ in backbone.named_modules()]
    stage_ends = []
    for feature in feature_modules:
        # FeatureListNet flattens nested names ("blocks.1" -> "blocks_1"); accept both.
        candidates = {feature, feature.replace(".", "_")}
        inside = [i for i, n in enumerate(names) if any(n == c or n.startswith(c + ".") for c in candidates)]
        if not inside:
            raise ValueError(f"feature module {feature!r} not found in backbone")
        stage_ends.append(max(inside))
    stages: dict[str, int] = {}
    for position, name in enumerate(names):
        stages[name] = next((i for i, end in enumerate(stage_ends) if position <= end), len(stage_ends))
    return stages


def insert_lgconv(backbone: nn.Module, feature_modules: list[str], cfg: LGConvConfig) -> int:
    """Wrap the output conv of every residual block in the selected stages; return the count.

    Blocks of classes not listed in ``_OUTPUT_CONV_OF_BLOCK`` are left untouched, so an
    unknown backbone still works (without LG-Conv) instead of failing.
    """
    stage_of = block_stages(backbone, feature_modules)
    targets: list[tuple[nn.Module, str]] = []
    for name, block in backbone.named_modules():
        path = _OUTPUT_CONV_OF_BLOCK.get(type(block).__name__)
        if path is None or stage_of.get(name, -1) not in cfg.stages:
            continue
        conv = _get(block, path[0])
        if isinstance(conv, nn.Conv2d) and conv.groups == 1:
            targets.append((block, path[0]))
    for block, attr in targets:
        _set(block, attr, LGConv(_get(block, attr), cfg))  # type: ignore[arg-type]
    return len(targets)


def set_lgconv_fused(model: nn.Module, fused: bool) -> int:
    """Switch every LG-Conv branch of ``model`` between the fused eval path and the reference one; returns the count."""
    branches = [m for m in model.modules() if isinstance(m, GlobalBranch)]
    for branch in branches:
        branch.fused = bool(fused)
    return len(branches)


def count_global_branch_parameters(model: nn.Module) -> int:
    """Parameters added by LG-Conv (used by the parameter table and tests)."""
    return sum(p.numel() for m in model.modules() if isinstance(m, GlobalBranch) for p in m.parameters())


__all__ = ["GlobalBranch", "LGConv", "block_stages", "insert_lgconv", "count_global_branch_parameters", "set_lgconv_fused"]
