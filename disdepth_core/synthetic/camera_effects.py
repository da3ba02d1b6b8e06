"""Camera effects for synthetic frames: exposure, white balance, gamma, blur, sensor noise.

Why: the ray caster renders perfectly exposed, noise-free, pin-sharp images, and a network
trained only on those leans on cues no real camera gives it (exact colours, crisp edges).
Randomising what a real sensor does to the image (domain randomisation) removes those
shortcuts without touching the depth, which stays exact. The effects depend only on the
``rng`` handed in, so a dataset stays byte-identical for a given seed.
"""

from __future__ import annotations

import cv2
import numpy as np


def frame_rng(scene_seed: int, frame_index: int) -> np.random.Generator:
    """Independent, reproducible stream per frame (no dependence on render order)."""
    return np.random.default_rng(np.random.SeedSequence([int(scene_seed) & 0xFFFFFFFF, int(scene_seed) >> 32, 0xCA3E, int(frame_index)]))


def apply_camera_effects(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a new uint8 RGB image seen through a randomly set up camera.

    Ranges are those of consumer RGB-D and automotive cameras: auto-exposure errors of about
    one stop either way, white balance off by up to ~15 % per channel, display gamma 0.8-1.25,
    slight defocus or motion blur, shot + read noise, and lens vignetting.
    """
    h, w = rgb.shape[:2]
    img = rgb.astype(np.float32) / 255.0
    gain = float(np.exp(rng.uniform(np.log(0.55), np.log(1.6))))
    balance = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    img = img * (gain * balance)
    gamma = float(rng.uniform(0.8, 1.25))
    img = np.clip(img, 0.0, 1.0) ** gamma
    blur = rng.random()
    scale = w / 640.0  # blur and noise grain are set for a 640-pixel-wide image
    if blur < 0.35:
        sigma = float(rng.uniform(0.3, 1.4)) * scale
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=max(sigma, 1e-3))
    elif blur < 0.55:
        length = max(2, int(round(rng.uniform(2, 7) * scale)))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D(((length - 1) / 2.0, (length - 1) / 2.0), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        img = cv2.filter2D(img, -1, kernel / max(float(kernel.sum()), 1e-6))
    if rng.random() < 0.6:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2.0) ** 2 + (yy - h / 2.0) ** 2) / ((w / 2.0) ** 2 + (h / 2.0) ** 2)
        img = img * (1.0 - float(rng.uniform(0.1, 0.4)) * r2)[..., None]
    shot, read = float(rng.uniform(0.0, 0.02)), float(rng.uniform(0.0, 0.015))
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.sqrt(shot * np.clip(img, 0.0, 1.0) * 0.05 + read * read)
    img = img + noise
    return np.clip(img * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
