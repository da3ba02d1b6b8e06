"""PyTorch backend: runs a DisDepth checkpoint directly (CPU or CUDA, optional FP16).

The reference implementation the other backends are checked against, and the fallback on
machines without ONNX Runtime or TensorRT. torch is imported only when this backend loads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import DepthRuntime, InputSpec, ModelLoadError
from .metadata import ModelMetadata


class TorchRuntime(DepthRuntime):
    backend = "torch"

    def __init__(self, path: str, device: str = "auto", half: bool = False, input_hw: tuple[int, int] | None = None,
                 threads: int = 0, **_: Any) -> None:
        import torch

        if threads > 0:
            # On a busy robot computer, OpenMP threads spinning against other processes can
            # cost far more than they gain; let deployments pin the CPU thread count.
            torch.set_num_threads(int(threads))

        from disdepth_core.models.checkpoint import CheckpointError, load_student

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError("device 'cuda' requested but torch sees no CUDA device")
        if half and not device.startswith("cuda"):
            raise ModelLoadError("half precision needs a CUDA device (CPU FP16 convolutions are slow or unsupported)")
        try:
            model, meta = load_student(path, device=device)
        except CheckpointError as err:
            raise ModelLoadError(str(err)) from err
        self._torch = torch
        self.device = torch.device(device)
        self.half = half
        self.model = model.half() if half else model
        metadata = ModelMetadata.from_checkpoint_meta(meta, input_hw)
        metadata.dynamic_shape = True
        super().__init__(path, metadata, InputSpec(0, 0))

    def _run(self, images: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device, non_blocking=True)
            if self.half:
                batch = batch.half()
            depth = self.model(batch)
            return depth.float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(device=str(self.device), precision="fp16" if self.half else "fp32", torch=self._torch.__version__,
                    threads=self._torch.get_num_threads())
        return info
