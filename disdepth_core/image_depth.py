"""Metric depth for one RGB image with a loaded runtime (offline tools: ``disdepth predict``, real-frame eval).

A thin call into the node's own :class:`~disdepth_core.pipeline.FramePipeline`, so offline
tools resize, rescale by focal length (when intrinsics are given) and range-mask exactly as the
robot does: one implementation of each step, not a second copy that could drift.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from disdepth_core.pipeline import FramePipeline, PipelineConfig

# The node's defaults without the point cloud: the model's depth range, output at camera size.
_IMAGE_CONFIG = PipelineConfig(points=False)


def predict_depth(runtime, rgb: np.ndarray, K: Optional[np.ndarray] = None,
                  input_hw: Optional[tuple[int, int]] = None) -> np.ndarray:
    """float32 metres ``[H,W]`` aligned with ``rgb`` (uint8 RGB), NaN where invalid.

    With ``K`` (the intrinsics of ``rgb``) depth is rescaled by focal length as the node's
    ``focal_rescale`` does; without it the network's output is used as is.
    """
    config = PipelineConfig(points=False, focal_rescale=K is not None) if K is not None else _IMAGE_CONFIG
    camera = (np.asarray(K, dtype=np.float64), rgb.shape[:2]) if K is not None else None
    return FramePipeline(runtime, input_hw).process_rgb(rgb, camera, config).depth
