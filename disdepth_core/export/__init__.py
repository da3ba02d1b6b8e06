"""Turning a checkpoint into a deployable artifact: a self-contained, verified ONNX file.

``onnx_export`` (checkpoint -> verified ONNX). What an artifact carries (metadata, ONNX props,
engine sidecars) is the runtime's contract (:mod:`disdepth_core.runtime.artifact`), and
TensorRT engines are built on the target device beside their runner
(:mod:`disdepth_core.runtime.tensorrt_build`): this package depends on ``runtime``, never the
other way round. Heavy dependencies are imported inside functions so importing it stays cheap.
"""

EXPORT_FORMATS = ("onnx", "engine")

__all__ = ["EXPORT_FORMATS"]
