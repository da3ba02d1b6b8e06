"""PyTorch backend: runs a DisDepth checkpoint directly (CPU or CUDA), with a GPU fast path.

The reference implementation the other backends are checked against, and the fallback on
machines without ONNX Runtime or TensorRT. torch is imported only when this backend loads.

Options (``load_runtime(ckpt, precision="fp16", channels_last=True, cuda_graph=True)``, the
node's parameters of the same names, ``disdepth bench --precision/--channels-last/--cuda-graph``):

* ``precision``: ``fp32`` (default), ``fp16`` (CUDA only) or ``bf16``; ``half=True`` is ``fp16``.
  Depth always comes back as float32.
* ``channels_last``: NHWC memory format, which Tensor Core convolutions prefer.
* ``cuda_graph``: capture the whole forward pass per input shape and replay it
  (:mod:`.torch_fast_path`); on a CPU device, or when capture fails, it runs eagerly with a message.
* ``compile``: ``torch.compile`` the forward pass (``compile_mode``, default ``max-autotune-no-cudagraphs``
  with ``cuda_graph`` and ``reduce-overhead`` without); falls back with a message when unavailable.
"""

from __future__ import annotations

import re

from typing import Any

import numpy as np

from .base import DepthRuntime, InputSpec, ModelLoadError
from .artifact import ModelMetadata
from .torch_fast_path import PRECISIONS, ForwardPass, GraphedForward, compile_forward, torch_dtype


class TorchRuntime(DepthRuntime):
    backend = "torch"

    def __init__(self, path: str, device: str = "auto", half: bool = False, input_hw: tuple[int, int] | None = None,
                 threads: int = 0, precision: str | None = None, channels_last: bool = False, cuda_graph: bool = False,
                 compile: bool = False, compile_mode: str | None = None, log: Any = print, **_: Any) -> None:
        import torch

        if threads > 0:
            # On a busy robot computer, OpenMP threads spinning against other processes can
            # cost far more than they gain; let deployments pin the CPU thread count.
            torch.set_num_threads(int(threads))

        from disdepth_core.models.checkpoint import CheckpointError, load_model

        precision = precision or ("fp16" if half else "fp32")
        if precision not in PRECISIONS:
            raise ModelLoadError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if half and precision != "fp16":
            raise ModelLoadError(f"half=True contradicts precision={precision!r}; pass only precision")
        if not re.match(r"^(auto|cpu|cuda(:\d+)?)$", str(device)):
            raise ModelLoadError(f"--device {device!r} is not supported by the torch backend; use auto, cpu, cuda or cuda:N")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError(f"device {device!r} requested but CUDA is not available here (torch sees no CUDA device); use cpu or auto")
        if precision == "fp16" and not device.startswith("cuda"):
            raise ModelLoadError("fp16 needs a CUDA device (CPU FP16 convolutions are slow or unsupported); use fp32 or bf16")
        try:
            model, meta = load_model(path, device=device)
        except CheckpointError as err:
            raise ModelLoadError(str(err)) from err
        self._torch = torch
        self._log = log
        self.device = torch.device(device)
        self.precision, self.channels_last = precision, bool(channels_last)
        self.half = precision == "fp16"
        model = model.to(torch_dtype(precision))
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.has_confidence = hasattr(model, "forward_with_confidence")
        forward = ForwardPass(model, torch_dtype(precision), self.channels_last, self.has_confidence)
        self.compiled = bool(compile)
        if compile:
            mode = compile_mode or ("max-autotune-no-cudagraphs" if cuda_graph else "reduce-overhead")
            forward = compile_forward(forward, mode, log)
        self._forward = forward
        self._graphed: GraphedForward | None = None
        self.cuda_graph_requested = bool(cuda_graph)
        if cuda_graph:
            self._graphed = GraphedForward(forward, self.device, log)
            if self.device.type != "cuda":
                self._graphed.eager_only_reason = f"device {self.device} is not a CUDA device"
                log(f"cuda_graph: CUDA graphs need a CUDA device; running eagerly on {self.device}")
        metadata = ModelMetadata.from_checkpoint_meta(meta, input_hw)
        metadata.dynamic_shape = True
        super().__init__(path, metadata, InputSpec(0, 0))

    @property
    def cuda_graph_active(self) -> bool:
        """True when at least one input shape runs from a captured CUDA graph."""
        return self._graphed is not None and bool(self._graphed.graphs)

    def _run(self, images: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(images))
            if self._graphed is not None:
                out = self._graphed(batch)
            else:
                out = self._forward(batch.to(self.device, non_blocking=True))
            if isinstance(out, tuple):
                return out[0].cpu().numpy(), out[1].cpu().numpy()
            return out.cpu().numpy()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        graph = "off"
        if self._graphed is not None:
            graph = "active" if self.cuda_graph_active else f"requested, eager ({self._graphed.eager_only_reason or 'not captured yet'})"
        info.update(device=str(self.device), precision=self.precision, channels_last=self.channels_last, cuda_graph=graph,
                    compile=self.compiled, torch=self._torch.__version__, threads=self._torch.get_num_threads())
        return info
