"""Export (ONNX, TensorRT) tests."""
