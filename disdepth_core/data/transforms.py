"""Geometric and photometric transforms for depth training, on numpy HWC arrays.

Every random transform takes a ``numpy.random.Generator`` instead of using global random
state, so a sample's augmentation is a pure function of (seed, epoch, index) and identical in
any DataLoader worker. Geometric transforms take the image and the depth map together so the
two can never drift apart. Depth maps are always resampled with nearest neighbour: blending a
valid depth with an invalid 0 (or a foreground with a background) invents depths that do not
exist in the scene.

Normalisation is not here: it is part of the deployed-model contract
(:mod:`disdepth_core.runtime.normalization`), and the datasets import it from there so training
normalises exactly as the robot does. torch is imported only inside :func:`to_tensor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from disdepth_core.data.dataset_config import scaled_size

if TYPE_CHECKING:
    import torch

KB_CROP_HEIGHT = 352
KB_CROP_WIDTH = 1216
# White border of NYU Depth V2 RGB frames: rows 45..472, columns 43..608 (exclusive ends).
NYU_BORDER_TOP, NYU_BORDER_BOTTOM, NYU_BORDER_LEFT, NYU_BORDER_RIGHT = 45, 472, 43, 608

Box = tuple[int, int, int, int]  # (top, left, height, width)


def crop(array: np.ndarray | None, box: Box) -> np.ndarray | None:
    """Crop ``array`` (HW or HWC) to ``box``; ``None`` passes through (no ground truth)."""
    if array is None:
        return None
    top, left, height, width = box
    return array[top:top + height, left:left + width]


def kb_crop_box(height: int, width: int, crop_height: int = KB_CROP_HEIGHT, crop_width: int = KB_CROP_WIDTH) -> Box:
    """KITTI benchmark crop: the bottom ``crop_height`` rows, horizontally centred.

    KITTI frames vary slightly in size (370-376 x 1224-1242); this crop gives every frame the
    same network input size and drops the sky rows where LiDAR has no returns.
    """
    if height < crop_height or width < crop_width:
        raise ValueError(f"image {height}x{width} is smaller than the KB crop {crop_height}x{crop_width}")
    return (height - crop_height, (width - crop_width) // 2, crop_height, crop_width)


def kb_crop(img: np.ndarray, depth: np.ndarray | None, crop_height: int = KB_CROP_HEIGHT,
            crop_width: int = KB_CROP_WIDTH) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply :func:`kb_crop_box` to the image and (optionally) the depth map."""
    box = kb_crop_box(img.shape[0], img.shape[1], crop_height, crop_width)
    return crop(img, box), crop(depth, box)


def nyu_border_box(scale: float = 1.0) -> Box:
    """Box inside the NYU frame without the white border, for a frame resized by ``scale``."""
    top, left = scaled_size(NYU_BORDER_TOP, scale), scaled_size(NYU_BORDER_LEFT, scale)
    bottom, right = scaled_size(NYU_BORDER_BOTTOM, scale), scaled_size(NYU_BORDER_RIGHT, scale)
    return (top, left, bottom - top, right - left)


def nyu_border_crop(img: np.ndarray, depth: np.ndarray | None,
                    scale: float = 1.0) -> tuple[np.ndarray, np.ndarray | None]:
    """Remove the white border of NYU RGB frames (``img[45:472, 43:608]`` at full size).

    The border has no depth and would teach the network that white frames are near.
    """
    box = nyu_border_box(scale)
    if img.shape[0] < box[0] + box[2] or img.shape[1] < box[1] + box[3]:
        raise ValueError(f"image {img.shape[0]}x{img.shape[1]} is too small for the NYU border crop {box}")
    return crop(img, box), crop(depth, box)


def random_crop(img: np.ndarray, depth: np.ndarray | None, height: int, width: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Crop the same uniformly placed ``height x width`` window from image and depth."""
    h, w = img.shape[:2]
    if depth is not None and depth.shape[:2] != (h, w):
        raise ValueError(f"image {h}x{w} and depth {depth.shape[0]}x{depth.shape[1]} differ in size")
    if height > h or width > w:
        raise ValueError(f"random crop {height}x{width} is larger than the image {h}x{w}")
    top = int(rng.integers(0, h - height + 1))
    left = int(rng.integers(0, w - width + 1))
    box = (top, left, height, width)
    return crop(img, box), crop(depth, box)


def rotate(img: np.ndarray, depth: np.ndarray | None, angle_deg: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Rotate about the centre by ``angle_deg`` (counter-clockwise); uncovered pixels become 0.

    Bilinear for the image, nearest for depth (so only measured depths, or 0, appear).
    """
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(angle_deg), 1.0)
    out_img = cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if out_img.ndim == 2 and img.ndim == 3:  # OpenCV drops a singleton channel
        out_img = out_img[..., None]
    out_depth = None
    if depth is not None:
        out_depth = cv2.warpAffine(depth, matrix, (w, h), flags=cv2.INTER_NEAREST,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out_img, out_depth


def random_rotate(img: np.ndarray, depth: np.ndarray | None, max_deg: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Rotate by an angle drawn uniformly from ``[-max_deg, max_deg]`` (BTS augmentation)."""
    angle = float(rng.uniform(-max_deg, max_deg))
    return rotate(img, depth, angle)


def random_flip(img: np.ndarray, depth: np.ndarray | None, rng: np.random.Generator,
                p: float = 0.5) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror image and depth left-right together with probability ``p``."""
    if rng.random() < p:
        img = np.ascontiguousarray(img[:, ::-1])
        depth = None if depth is None else np.ascontiguousarray(depth[:, ::-1])
    return img, depth


def color_augment(img: np.ndarray, rng: np.random.Generator, brightness: tuple[float, float] = (0.9, 1.1),
                  gamma: tuple[float, float] = (0.9, 1.1), colour: tuple[float, float] = (0.9, 1.1),
                  p: float = 0.5) -> np.ndarray:
    """BTS photometric jitter on a float RGB image in [0, 1], applied with probability ``p``.

    Gamma, then global brightness, then a per-channel gain, then clipping to [0, 1]. BTS uses
    brightness 0.9-1.1 for KITTI and 0.75-1.25 for NYU (indoor exposure varies more).
    The random numbers are drawn even when the jitter is skipped, so ``p`` does not shift
    later draws of the same generator.
    """
    apply = rng.random() < p
    g = rng.uniform(*gamma)
    b = rng.uniform(*brightness)
    c = rng.uniform(colour[0], colour[1], size=3)
    if not apply:
        return img
    out = np.power(img.astype(np.float32), np.float32(g)) * np.float32(b)
    out = out * c.astype(np.float32).reshape(1, 1, 3)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def to_float_image(img: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [0, 1]; float input is returned as float32 unchanged."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    return img.astype(np.float32, copy=False)


def to_tensor(array: np.ndarray) -> "torch.Tensor":
    """numpy -> torch: ``[H, W]`` becomes ``[1, H, W]``; 3-D arrays are taken as already CHW."""
    import torch

    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"to_tensor expects a 2-D or 3-D array, got shape {tuple(array.shape)}")
    return torch.from_numpy(np.ascontiguousarray(array))


def resize_pair(img: np.ndarray, depth: np.ndarray | None, scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize image (area when shrinking, linear when enlarging) and depth (nearest) by ``scale``."""
    if scale == 1.0:
        return img, depth
    h, w = img.shape[:2]
    size = (scaled_size(w, scale), scaled_size(h, scale))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    img = cv2.resize(img, size, interpolation=interp)
    if depth is not None:
        depth = cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST)
    return img, depth
