"""Metric depth for one RGB image with a loaded runtime (offline tools: ``disdepth predict``, real-frame eval).

The same steps as the ROS node, from the shared runtime pieces: the whole frame is resized to
the model input, the output is scaled by (camera focal in network pixels) / (training focal)
when the intrinsics are known (a monocular net reads metric depth from apparent size), and
mapped back to the frame with NaN where nothing valid was predicted. numpy + OpenCV only.
"""

from __future__ import annotations

import numpy as np

from disdepth_core.runtime.preprocess import choose_input_size, postprocess_depth, preprocess_rgb


def predict_depth(runtime, rgb: np.ndarray, K: np.ndarray | None = None,
                  input_hw: tuple[int, int] | None = None) -> np.ndarray:
    """float32 metres ``[H,W]`` aligned with ``rgb`` (uint8 RGB), NaN where invalid."""
    meta = runtime.metadata
    batch, transform = preprocess_rgb(rgb, choose_input_size(runtime.input_spec, meta, input_hw), meta)
    raw = runtime.infer(batch)
    if K is not None and meta.train_focal:
        raw = raw * np.float32(float(K[0, 0]) * transform.focal_scale / float(meta.train_focal))
    return postprocess_depth(raw, transform, meta.min_depth, meta.max_depth, "camera")
