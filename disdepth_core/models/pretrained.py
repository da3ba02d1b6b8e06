"""Load user-provided ImageNet weights into a timm ``features_only`` backbone.

Nothing is downloaded at run time: users bring a local file (timm ``.pth``/``.bin`` state
dict or ``.safetensors``). Classifier keys are dropped; any backbone key left unfilled is an
error naming the keys, because silently training from half-random weights wastes days.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

_CLASSIFIER_PREFIXES = ("fc.", "classifier.", "head.", "conv_head.", "bn2.", "global_pool.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a tensor dict from ``.safetensors`` or a torch file, unwrapping common nestings."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ValueError(f"cannot read weights from {path}: {err}") from err
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a state dict (found {type(data).__name__})")
    return {k.removeprefix("module."): v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _module_of(key: str) -> str:
    """Top-level module name (``layer1.2.conv1.weight`` -> ``layer1``; ``blocks_8.0.x`` -> ``blocks_8``)."""
    return key.split(".", 1)[0]


def _match_feature_names(weights: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename classifier-model keys to timm ``FeatureListNet`` names where those differ.

    ``FeatureListNet`` flattens nested module names (GhostNet's ``blocks.0.x`` becomes
    ``blocks_0.x``), so an ImageNet checkpoint's keys must be flattened the same way.
    """
    renamed = {}
    for key, value in weights.items():
        if key not in own:
            parts = key.split(".")
            if len(parts) > 2 and parts[1].isdigit() and f"{parts[0]}_{parts[1]}.{'.'.join(parts[2:])}" in own:
                key = f"{parts[0]}_{parts[1]}.{'.'.join(parts[2:])}"
        renamed[key] = value
    return renamed


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Copy weights into ``backbone``; fail loudly on missing, extra or mis-shaped keys.

    Extra non-classifier keys mean the file is for another architecture (resnet34 weights
    contain every resnet18 key), which strict matching alone would not catch.
    """
    load_backbone_state(backbone, read_state_dict(path), str(path))


def load_backbone_state(backbone: nn.Module, weights: dict[str, torch.Tensor], path: str) -> None:
    """:func:`load_backbone_weights` for weights already in memory (e.g. after a layout conversion)."""
    own = backbone.state_dict()
    weights = _match_feature_names(weights, own)
    missing = [k for k in own if k not in weights]
    wrong_shape = [f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if k in weights and weights[k].shape != v.shape]
    # Keys of modules the features-only model dropped entirely (classifier, stages after the
    # last feature) are expected; an unknown key inside a module we DO have means another
    # architecture (resnet34 weights hold every resnet18 key plus extra blocks).
    own_modules = {_module_of(k) for k in own}
    extra = [k for k in weights if k not in own and not k.startswith(_CLASSIFIER_PREFIXES) and _module_of(k) in own_modules]
    if missing or wrong_shape or extra:
        details = []
        if extra:
            details.append(f"{len(extra)} key(s) this backbone does not have, e.g. {', '.join(extra[:5])}")
        if missing:
            details.append(f"missing {len(missing)} key(s), e.g. {', '.join(missing[:5])}")
        if wrong_shape:
            details.append(f"shape mismatch: {'; '.join(wrong_shape[:5])}")
        raise ValueError(f"pretrained weights {path} do not fit this backbone: {' | '.join(details)}")
    backbone.load_state_dict({k: weights[k] for k in own}, strict=True)
