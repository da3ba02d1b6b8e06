"""DisDepth core: models, losses, metrics, geometry, data, export and runtimes.

Importing this package is cheap and ROS-free; heavy dependencies (torch, onnxruntime,
TensorRT) are imported by the submodules that need them, so the ROS node can use the
runtime and geometry code without pulling in training machinery.
"""

__version__ = "0.1.0"
