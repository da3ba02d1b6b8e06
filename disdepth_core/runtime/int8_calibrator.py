"""INT8 entropy calibration from a folder of images, with a reusable calibration cache.

Images go through the same ``preprocess_rgb`` as inference, so the calibrated ranges match
what the robot feeds. The cache makes rebuilds (other workspace, timing cache, DLA core)
cheap and deterministic: when it exists, TensorRT reads it and no image is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import ModelMetadata

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")


def list_calibration_images(folder: str | Path | None, limit: int = 500) -> list[Path]:
    """Sorted image files (recursively) under ``folder``, at most ``limit`` spread evenly."""
    if folder is None:
        return []
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"calibration image folder not found: {folder}")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(paths) > limit:
        step = len(paths) / limit
        paths = [paths[int(i * step)] for i in range(limit)]
    return paths


def calibration_batches(paths: list[Path], metadata: ModelMetadata, input_hw: tuple[int, int]) -> Iterator[np.ndarray]:
    """One preprocessed batch of 1 per readable image (unreadable files are skipped)."""
    import cv2

    from disdepth_core.runtime.preprocess import preprocess_rgb

    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        batch, _ = preprocess_rgb(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), input_hw, metadata)
        yield np.ascontiguousarray(batch)


def make_entropy_calibrator(images: str | None, cache_file: str | None, metadata: ModelMetadata, input_hw: tuple[int, int],
                            max_images: int = 500, log: Callable[[str], None] = print) -> Any:
    """An ``IInt8EntropyCalibrator2`` (the class is defined here because tensorrt loads lazily).

    ``get_batch`` allocates and copies with pycuda, so it must run with a CUDA context current:
    :func:`disdepth_core.runtime.tensorrt_build.build_engine` pushes one for the whole build and
    calls ``free()`` before popping it.
    """
    import pycuda.driver as cuda
    import tensorrt as trt

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.cache_file = Path(cache_file) if cache_file else None
            cached = self.cache_file is not None and self.cache_file.is_file()
            self.paths = [] if cached else list_calibration_images(images, max_images)
            if not cached and not self.paths:
                raise ValueError(f"no calibration images (png/jpg) found in {images}")
            self.batches = calibration_batches(self.paths, metadata, input_hw)
            self.device: Any = None
            self.count = 0
            log(f"INT8 calibration: {'cache ' + str(self.cache_file) if cached else str(len(self.paths)) + ' images'}")

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch = next(self.batches, None)
            if batch is None:
                return None
            if self.device is None:
                self.device = cuda.mem_alloc(batch.nbytes)
            cuda.memcpy_htod(self.device, batch)
            self.count += 1
            if self.count % 50 == 0:
                log(f"  calibrated {self.count}/{len(self.paths)} images")
            return [int(self.device)]

        def free(self) -> None:
            """Release the batch buffer; the builder calls this while its CUDA context is still current."""
            if self.device is not None:
                self.device.free()
                self.device = None

        def read_calibration_cache(self) -> bytes | None:
            if self.cache_file is not None and self.cache_file.is_file():
                return self.cache_file.read_bytes()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            if self.cache_file is not None:
                self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                self.cache_file.write_bytes(bytes(cache))
                log(f"wrote calibration cache {self.cache_file}")

    return EntropyCalibrator()
