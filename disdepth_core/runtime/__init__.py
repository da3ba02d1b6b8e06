"""Inference runtimes behind one interface: ``load_runtime(path, backend="auto")``.

Backends (one module each, heavy imports inside): ``torch`` (checkpoints), ``onnxruntime``
(.onnx), ``tensorrt`` (.engine/.plan), ``openvino`` (.onnx on x86 CPUs, by name). Shared pre/post-processing is in :mod:`.preprocess`.
"""

from .base import DepthRuntime, InputSpec, ModelLoadError, RuntimeInputError
from .loader import BACKENDS, load_runtime
from .artifact import ModelMetadata

__all__ = ["BACKENDS", "DepthRuntime", "InputSpec", "ModelLoadError", "ModelMetadata", "RuntimeInputError", "load_runtime"]
