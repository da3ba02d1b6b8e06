"""Making the PyTorch backend fast on a GPU without TensorRT: precision, channels-last, CUDA graphs.

A B0 student at batch 1 is *launch-bound* on a modern GPU: eager PyTorch spends its time
launching a few hundred small kernels, so fp16 alone barely helps. Recording the whole forward
pass once into a CUDA graph and replaying it removes the per-kernel CPU cost (measured on an
H100: eager fp32 11.5 ms, graph fp32 3.8 ms, graph fp16 3.4 ms). Plain ``torch.cuda.CUDAGraph``
capture is used because ``torch.compile`` is often unavailable on a Jetson (no Triton);
``compile=True`` is offered on top where it works.

Capture needs a fixed input shape, static input/output tensors and a warm-up on a side stream;
one graph is kept per input shape (a robot's shape never changes). Anything that goes wrong
(an op that cannot be captured, a CPU device, out of memory) falls back to eager execution
with a one-line message: a slower node beats a dead one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PRECISIONS = ("fp32", "fp16", "bf16")
MAX_GRAPHS = 4  # distinct input shapes captured before further shapes run eagerly


def torch_dtype(precision: str) -> Any:
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


class ForwardPass:
    """``float32 NCHW on the device -> float32 depth`` (or ``(depth, confidence)``): dtype cast, memory
    format, model, cast back.

    Everything a frame needs happens inside this one function, so a CUDA graph captures all of
    it (the cast and layout change included) and the replay launches nothing else. With
    ``confidence`` the model's ``forward_with_confidence`` runs instead of ``forward``: both
    outputs of one pass, as the exported graphs give them.
    """

    def __init__(self, model: Any, dtype: Any, channels_last: bool, confidence: bool = False) -> None:
        self.model, self.dtype, self.channels_last, self.confidence = model, dtype, channels_last, confidence

    def __call__(self, images: Any) -> Any:
        import torch

        x = images.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.confidence:
            depth, confidence = self.model.forward_with_confidence(x)
            return depth.float(), confidence.float()
        return self.model(x).float()


class GraphedForward:
    """Runs a :class:`ForwardPass` through one captured CUDA graph per input shape, eager on failure.

    ``log`` receives the one-line messages (capture done, capture failed and why). After a
    failed capture the same shape runs eagerly for good, so the message appears once.
    """

    def __init__(self, forward: Callable[[Any], Any], device: Any, log: Callable[[str], None] = print,
                 warmup_iters: int = 3) -> None:
        self.forward, self.device, self.log, self.warmup_iters = forward, device, log, warmup_iters
        self.graphs: dict[tuple[int, ...], tuple[Any, Any, Any]] = {}
        self.failed: set[tuple[int, ...]] = set()
        self.eager_only_reason: str | None = None

    def _capture(self, shape: tuple[int, ...]) -> tuple[Any, Any, Any]:
        import torch

        static_in = torch.zeros(shape, dtype=torch.float32, device=self.device)
        stream = torch.cuda.Stream(device=self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):  # warm-up (cuDNN autotuning, allocator) off the capture
            for _ in range(self.warmup_iters):
                self.forward(static_in)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.forward(static_in)
        return graph, static_in, static_out

    def __call__(self, images: Any) -> Any:
        """``images``: a float32 tensor (CPU or device). Returns a float32 device tensor owned by the graph:
        copy it before the next call."""
        shape = tuple(int(d) for d in images.shape)
        if self.eager_only_reason is not None or shape in self.failed:
            return self.forward(images.to(self.device, non_blocking=True))
        entry = self.graphs.get(shape)
        if entry is None:
            if len(self.graphs) >= MAX_GRAPHS:
                self.failed.add(shape)
                self.log(f"cuda_graph: already {MAX_GRAPHS} captured input shapes; {shape} runs eagerly")
                return self.forward(images.to(self.device, non_blocking=True))
            try:
                entry = self._capture(shape)
            except Exception as err:  # noqa: BLE001 - any capture failure falls back to eager
                self.failed.add(shape)
                reason = " ".join(str(err).split())[:300] or type(err).__name__
                self.log(f"cuda_graph: capture failed for input {'x'.join(map(str, shape))} ({type(err).__name__}: {reason}); "
                         "running eagerly instead")
                return self.forward(images.to(self.device, non_blocking=True))
            self.graphs[shape] = entry
            self.log(f"cuda_graph: captured the forward pass for input {'x'.join(map(str, shape))}")
        graph, static_in, static_out = entry
        static_in.copy_(images, non_blocking=True)
        graph.replay()
        return static_out


def compile_forward(forward: Callable[[Any], Any], mode: str, log: Callable[[str], None]) -> Callable[[Any], Any]:
    """``torch.compile`` the forward pass; compilation errors (at first call) fall back to ``forward`` with a message."""
    import torch

    if not hasattr(torch, "compile"):
        log("compile: this torch has no torch.compile; running without it")
        return forward
    try:
        compiled = torch.compile(forward, mode=mode)
    except Exception as err:  # noqa: BLE001
        log(f"compile: torch.compile failed ({type(err).__name__}: {err}); running without it")
        return forward
    state = {"fn": compiled}

    def run(images: Any) -> Any:
        try:
            return state["fn"](images)
        except Exception as err:  # noqa: BLE001 - missing Triton/compiler shows up at the first call
            if state["fn"] is forward:
                raise
            log(f"compile: torch.compile failed at the first call ({type(err).__name__}: "
                f"{' '.join(str(err).split())[:200]}); running without it")
            state["fn"] = forward
            return forward(images)

    return run
