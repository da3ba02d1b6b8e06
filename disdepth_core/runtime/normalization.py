"""Input normalisation: the ImageNet statistics and ``(x - mean) / std`` into CHW float32.

Part of the deployed-model contract (:class:`~disdepth_core.runtime.artifact.ModelMetadata`
records mean/std) and used by the runtimes' pre-processing on the robot, so it lives here,
numpy only; the training datasets (:mod:`disdepth_core.data.transforms`) import it from here,
so what is trained on is normalised exactly as what runs on the robot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# ImageNet statistics of the pretrained backbones; shared by training, export and runtime.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def normalize(img: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """RGB HWC (uint8, or float in [0, 1]) -> normalised float32 CHW, ``(x - mean) / std``.

    One fused multiply-add per channel written straight into the CHW output (no float HWC copy).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"normalize expects an RGB HWC image, got shape {tuple(img.shape)}")
    value_scale = 255.0 if img.dtype == np.uint8 else 1.0
    out = np.empty((3, img.shape[0], img.shape[1]), dtype=np.float32)
    for channel in range(3):
        np.multiply(img[:, :, channel], np.float32(1.0 / (value_scale * std[channel])), out=out[channel], casting="unsafe")
        out[channel] -= np.float32(mean[channel] / std[channel])
    return out


def normalize_to_nchw(rgb: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 HWC -> float32 ``[1,3,H,W]``: :func:`normalize` plus a batch axis."""
    return normalize(rgb, mean, std)[None]
