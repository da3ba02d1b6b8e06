"""Pinhole-camera geometry for depth maps (numpy only, used on the ROS hot path).

Conventions match ``depth_image_proc/point_cloud_xyz`` so our clouds are drop-in compatible:
organized clouds (one point per sampled pixel), float32 x/y/z in the camera optical frame,
``X = (u - cx) * Z / fx``, ``Y = (v - cy) * Z / fy``, ``Z = depth`` in metres, and NaN for
invalid pixels (a 0 would be read as a valid point at the camera centre).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "as_intrinsics",
    "ray_grid",
    "depth_to_points",
    "scale_intrinsics",
    "crop_intrinsics",
    "focal_rescale_factor",
    "rescale_depth_for_focal",
]

# Intrinsics are rounded to this many decimals to form cache keys, so tiny float noise from
# re-parsing camera_info does not defeat the cache. 1e-6 px is far below any real effect.
_KEY_DECIMALS = 6
_CACHE_SIZE = 16


def as_intrinsics(K: np.ndarray | Sequence[float]) -> np.ndarray:
    """Return K as a float64 [3, 3] copy; accepts [3, 3] or a flat 9-sequence (camera_info.k)."""
    arr = np.array(K, dtype=np.float64)
    if arr.shape == (9,):
        arr = arr.reshape(3, 3)
    if arr.shape != (3, 3):
        raise ValueError(f"K must be [3, 3] or 9 values (row-major), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("K contains non-finite values")
    if arr[0, 0] == 0.0 or arr[1, 1] == 0.0:
        raise ValueError(f"K has a zero focal length (fx={arr[0, 0]}, fy={arr[1, 1]})")
    return arr


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_rays(
    h: int, w: int, stride: int, fx: float, fy: float, cx: float, cy: float
) -> tuple[np.ndarray, np.ndarray]:
    u = np.arange(0, w, stride, dtype=np.float64)
    v = np.arange(0, h, stride, dtype=np.float64)
    x_ray = ((u - cx) / fx).astype(np.float32)[None, :]  # [1, W']
    y_ray = ((v - cy) / fy).astype(np.float32)[:, None]  # [H', 1]
    # Shared between callers through the cache: make accidental in-place edits an error.
    x_ray.flags.writeable = False
    y_ray.flags.writeable = False
    return x_ray, y_ray


def ray_grid(
    hw: tuple[int, int], K: np.ndarray | Sequence[float], stride: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Cached per-pixel ray slopes ``(u - cx) / fx`` and ``(v - cy) / fy`` as float32.

    Returned as broadcastable [1, W'] and [H', 1] arrays (the pinhole ray of pixel (v, u) is
    ``(x_ray[0, u'], y_ray[v', 0], 1)``), so back-projecting a frame costs two multiplies and
    no meshgrid. Results are memoised (LRU) on the image size, stride and rounded intrinsics,
    so a stream from one camera reuses the very same read-only arrays every frame.
    """
    h, w = (int(hw[0]), int(hw[1]))
    stride = _check_stride(stride)
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got {hw}")
    k = as_intrinsics(K)
    key = tuple(round(float(x), _KEY_DECIMALS) for x in (k[0, 0], k[1, 1], k[0, 2], k[1, 2]))
    return _cached_rays(h, w, stride, *key)


def _check_stride(stride: int) -> int:
    if isinstance(stride, bool) or int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def _as_depth_image(depth: np.ndarray) -> np.ndarray:
    d = np.asarray(depth)
    if d.ndim == 3 and d.shape[0] == 1:
        d = d[0]
    elif d.ndim == 3 and d.shape[2] == 1:
        d = d[..., 0]
    if d.ndim != 2:
        raise ValueError(f"depth must be [H, W] (or [1, H, W] / [H, W, 1]), got {d.shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise ValueError(
            f"depth must be floating-point metres, got dtype {d.dtype}; convert 16UC1 "
            "millimetres with depth.astype(np.float32) / 1000 and zeros to NaN first"
        )
    return d


def depth_to_points(
    depth: np.ndarray,
    K: np.ndarray | Sequence[float],
    stride: int = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Back-project a metric depth image into an organized float32 [H', W', 3] point array.

    Rows/cols are sampled at ``v = 0, stride, 2*stride, ...`` (``H' = ceil(H / stride)``), and
    the sampled pixels keep their ORIGINAL coordinates, so K needs no adjustment for stride.
    Non-finite or non-positive depths give NaN points (``is_dense = false`` clouds).

    ``out`` may be a preallocated float32 [H', W', 3] array (e.g. a view on a PointCloud2
    buffer), reused every frame to avoid allocations on the hot path; it is returned.
    """
    d = _as_depth_image(depth)
    stride = _check_stride(stride)
    h, w = d.shape
    x_ray, y_ray = ray_grid((h, w), K, stride)
    shape = (y_ray.shape[0], x_ray.shape[1], 3)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.float32:
        got = (getattr(out, "shape", None), getattr(out, "dtype", type(out)))
        raise ValueError(f"out must be a float32 array of shape {shape}, got {got}")

    z = out[..., 2]
    # Invalid depths (inf * 0 ray, float32 overflow of huge float64 depths) produce
    # garbage that is overwritten with NaN below, so their FP warnings are noise.
    with np.errstate(over="ignore", invalid="ignore"):
        np.copyto(z, d[::stride, ::stride], casting="same_kind")
        np.multiply(z, x_ray, out=out[..., 0])
        np.multiply(z, y_ray, out=out[..., 1])
        # NaN depths already give NaN x/y/z (NaN times the ray); only <= 0 and inf need the
        # masked write, which is the slow part when many pixels are invalid (NaN compares False).
        invalid = (z <= 0.0) | np.isinf(z)
    if invalid.any():
        out[invalid] = np.nan
    return out


def scale_intrinsics(
    K: np.ndarray | Sequence[float], src_hw: tuple[int, int], dst_hw: tuple[int, int]
) -> np.ndarray:
    """Intrinsics of an image resized from ``src_hw`` to ``dst_hw`` (float64 [3, 3]).

    Uses the pixel-centre convention of OpenCV / align_corners=False resizing: pixel i covers
    [i - 0.5, i + 0.5], so a continuous coordinate maps as ``x' = (x + 0.5) * s - 0.5``. Hence
    ``fx' = fx * sx``, ``cx' = (cx + 0.5) * sx - 0.5`` (same for y). Scaling ``cx`` alone
    (``cx * sx``) would shift every projected point by ~half a pixel of the new image.
    """
    k = as_intrinsics(K)
    sh, sw = (int(src_hw[0]), int(src_hw[1]))
    dh, dw = (int(dst_hw[0]), int(dst_hw[1]))
    if min(sh, sw, dh, dw) <= 0:
        raise ValueError(f"image sizes must be positive, got src {src_hw} and dst {dst_hw}")
    sx, sy = dw / sw, dh / sh
    out = k.copy()
    out[0, 0] = k[0, 0] * sx
    out[0, 1] = k[0, 1] * sx  # skew is an x-pixel quantity per unit y/z
    out[0, 2] = (k[0, 2] + 0.5) * sx - 0.5
    out[1, 1] = k[1, 1] * sy
    out[1, 2] = (k[1, 2] + 0.5) * sy - 0.5
    return out


def crop_intrinsics(K: np.ndarray | Sequence[float], top: int, left: int) -> np.ndarray:
    """Intrinsics after cropping ``top`` rows and ``left`` columns off the image.

    A crop only moves the origin, so the principal point shifts and focal lengths stay
    (e.g. the KITTI KB-crop: ``top = H - 352``, ``left = (W - 1216) // 2``).
    """
    k = as_intrinsics(K)
    k[0, 2] -= float(left)
    k[1, 2] -= float(top)
    return k


def rescale_depth_for_focal(
    depth: np.ndarray | float, focal_camera: float, focal_train: float
) -> np.ndarray:
    """Correct metric depth predicted for a camera whose focal length differs from training.

    A monocular network infers metric depth from apparent size: an object of size S at depth Z
    spans ``f * S / Z`` pixels. Trained at ``focal_train`` it learned that mapping; on a camera
    with ``focal_camera`` the same pixel extent means ``Z_true = Z_pred * focal_camera /
    focal_train`` (a longer lens makes things look closer). The image must not have been
    resized since then, or the focal must be rescaled with :func:`scale_intrinsics` first.
    Float dtypes are preserved (float32 stays float32).
    """
    factor = focal_rescale_factor(focal_camera, focal_train)
    d = np.asarray(depth)
    if not np.issubdtype(d.dtype, np.floating):
        d = d.astype(np.float64)
    return d * d.dtype.type(factor)


def focal_rescale_factor(focal_camera: float, focal_train: float) -> float:
    """``focal_camera / focal_train``: the factor :func:`rescale_depth_for_focal` multiplies by.

    Split out so a pipeline can fold it into one multiply of the network output (before
    resizing) and report it; validated here once for both.
    """
    fc, ft = float(focal_camera), float(focal_train)
    if not (math.isfinite(fc) and math.isfinite(ft) and fc > 0.0 and ft > 0.0):
        raise ValueError(f"focal lengths must be finite and > 0, got {focal_camera}, {focal_train}")
    return fc / ft


def depth_to_millimetres(depth: np.ndarray) -> np.ndarray:
    """Metres (NaN invalid) -> uint16 millimetres with 0 = no data, the 16UC1 / PNG convention.

    NaN, non-positive depths and anything beyond 65.535 m all become 0, so a consumer never
    mistakes an invalid pixel for a close one. One implementation for the node's 16UC1 output,
    bag writing and ``disdepth predict``'s PNGs.
    """
    with np.errstate(invalid="ignore"):
        mm = np.rint(np.asarray(depth) * 1000.0)  # in the input's precision, as the node always rounded
        mm[~((mm > 0) & (mm <= 65535))] = 0
    return mm.astype(np.uint16)


def write_ply(path, xyz: np.ndarray, rgb: np.ndarray) -> int:
    """Binary little-endian PLY of the finite points of ``xyz [...,3]`` with colours ``rgb [...,3]``; returns the count."""
    valid = np.isfinite(xyz).all(axis=-1)
    points, colors = xyz[valid].astype("<f4"), rgb[valid].astype(np.uint8)
    record = np.empty(len(points), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    record["x"], record["y"], record["z"] = points[:, 0], points[:, 1], points[:, 2]
    record["r"], record["g"], record["b"] = colors[:, 0], colors[:, 1], colors[:, 2]
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"element vertex {len(points)}\nproperty float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(record.tobytes())
    return len(points)
