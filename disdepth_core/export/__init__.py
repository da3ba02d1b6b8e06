"""Turning a checkpoint into deployable artifacts: a self-contained ONNX file and TensorRT engines.

``onnx_export`` (checkpoint -> verified ONNX), ``tensorrt_build`` (ONNX -> engine, run on the
target device), ``int8_calibrator`` (INT8 calibration from a folder of images) and
``artifact_metadata`` (the metadata every artifact carries). Heavy dependencies are imported
inside functions so importing this package stays cheap.
"""

EXPORT_FORMATS = ("onnx", "engine")

__all__ = ["EXPORT_FORMATS"]
