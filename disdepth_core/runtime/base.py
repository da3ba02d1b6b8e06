"""The one interface every inference backend implements (TensorRT, ONNX Runtime, PyTorch).

Callers (the ROS node, ``disdepth bench``, offline bag evaluation) only see
:class:`DepthRuntime`: ``infer(batch) -> depth`` plus the input spec and metadata, so what is
benchmarked offline is exactly what runs on the robot. Backends live in their own modules and
import their heavy dependencies lazily inside ``__init__``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from .artifact import LAYOUT_NCHW_FLOAT, LAYOUT_NHWC_UINT8, ModelMetadata


class RuntimeInputError(ValueError):
    """An input array does not match the model's input spec (shape, dtype, layout)."""


class ModelLoadError(ValueError):
    """A model file is missing, corrupt, or not a DisDepth model for this backend."""


@dataclass(frozen=True)
class InputSpec:
    """What ``infer`` accepts. ``height``/``width`` of 0 mean any size (dynamic axes)."""

    height: int
    width: int
    layout: str = LAYOUT_NCHW_FLOAT
    max_batch: int = 1

    @property
    def is_dynamic(self) -> bool:
        return self.height == 0 or self.width == 0

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.layout == LAYOUT_NHWC_UINT8 else np.dtype(np.float32)

    def expected_shape(self, batch: int = 1) -> tuple[int, ...]:
        if self.layout == LAYOUT_NHWC_UINT8:
            return (batch, self.height, self.width, 3)
        return (batch, 3, self.height, self.width)

    def check(self, images: np.ndarray, source: str = "input") -> None:
        """Raise :class:`RuntimeInputError` naming the mismatch (never a backend's cryptic one)."""
        if not isinstance(images, np.ndarray):
            raise RuntimeInputError(f"{source}: expected a numpy array, got {type(images).__name__}")
        if images.dtype != self.dtype:
            raise RuntimeInputError(f"{source}: expected dtype {self.dtype} for layout {self.layout}, got {images.dtype}")
        if images.ndim != 4:
            raise RuntimeInputError(f"{source}: expected a 4-D batch {self.expected_shape()}, got shape {images.shape}")
        channel_axis = 3 if self.layout == LAYOUT_NHWC_UINT8 else 1
        if images.shape[channel_axis] != 3:
            raise RuntimeInputError(f"{source}: expected 3 channels on axis {channel_axis} ({self.layout}), got shape {images.shape}")
        if images.shape[0] < 1 or images.shape[0] > self.max_batch:
            raise RuntimeInputError(f"{source}: batch size {images.shape[0]} outside 1..{self.max_batch}")
        hw = images.shape[1:3] if self.layout == LAYOUT_NHWC_UINT8 else images.shape[2:4]
        if not self.is_dynamic and tuple(hw) != (self.height, self.width):
            raise RuntimeInputError(f"{source}: expected input size {self.height}x{self.width}, got {hw[0]}x{hw[1]}")


NO_CONFIDENCE_NOTE = ("has no confidence output (exported before per-pixel confidence existed): no /depth/confidence, "
                      "min_confidence has no effect and bag-eval reports no confidence_sparsification; re-export it "
                      "with `disdepth export` to get them")


class DepthRuntime(ABC):
    """A loaded depth model. ``infer`` maps an input batch to metric depth ``[N,1,H,W]`` float32.

    Models exported with a second output ``confidence`` (and checkpoints run by torch) also give
    a per-pixel confidence in [0, 1] from the same forward pass: :meth:`infer_with_confidence`,
    with :attr:`has_confidence` saying whether there is one. Older one-output artifacts keep
    working through both calls (their confidence is ``None``).
    """

    backend: str = "base"
    has_confidence: bool = False

    def __init__(self, path: str, metadata: ModelMetadata, input_spec: InputSpec) -> None:
        self.path = str(path)
        self.metadata = metadata
        self.input_spec = input_spec

    @abstractmethod
    def _run(self, images: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Backend-specific inference on an already checked batch: depth, or ``(depth, confidence)``."""

    def infer(self, images: np.ndarray) -> np.ndarray:
        """Check the batch against :attr:`input_spec`, run, and return float32 metres."""
        return self.infer_with_confidence(images)[0]

    def infer_with_confidence(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Depth (float32 metres) and confidence (float32 in [0, 1], or ``None`` without one), one pass."""
        self.input_spec.check(images, source=f"{self.backend} runtime ({self.path})")
        out = self._run(images)
        if isinstance(out, tuple):
            return np.asarray(out[0], dtype=np.float32), np.asarray(out[1], dtype=np.float32)
        return np.asarray(out, dtype=np.float32), None

    def describe(self) -> dict[str, Any]:
        """Human-readable facts for benchmarks and diagnostics (backend, device, precision...)."""
        return {"backend": self.backend, "model": self.path, "architecture": self.metadata.architecture,
                "input": f"{self.input_spec.height}x{self.input_spec.width} {self.input_spec.layout}",
                "confidence": "yes" if self.has_confidence else "no"}

    def warmup(self, iterations: int = 2, input_hw: tuple[int, int] | None = None) -> None:
        """Run a few dummy inferences so the first real frame does not pay for lazy initialisation.

        ``input_hw`` is the size frames will have (a dynamic-shape model allocates per shape);
        by default the model's fixed or recorded input size. The one warm-up of the project:
        the node, bag evaluation and benchmarks call it.
        """
        height, width = input_hw or (self.input_spec.height or self.metadata.input_height or 224,
                                     self.input_spec.width or self.metadata.input_width or 224)
        spec = InputSpec(int(height), int(width), self.input_spec.layout)
        dummy = np.zeros(spec.expected_shape(1), dtype=spec.dtype)
        for _ in range(iterations):
            self.infer(dummy)

    def close(self) -> None:
        """Release device memory / sessions; safe to call twice."""

    def __enter__(self) -> "DepthRuntime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
