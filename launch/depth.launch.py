"""Launch the DisDepth depth node: ``ros2 launch disdepth_ros depth.launch.py image:=/cam/image_raw``.

Parameters come from ``params_file`` (default: the package's config/depth.yaml), then the
model_path/backend arguments override it. The node subscribes ``image`` (or
``image/compressed`` with use_compressed) and ``camera_info``; remapped here so outputs keep
their names (``depth/image``, ``depth/points``...) inside ``namespace``.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("disdepth_ros"), "config", "depth.yaml")
    image = LaunchConfiguration("image")
    camera_info = LaunchConfiguration("camera_info")
    return LaunchDescription([
        DeclareLaunchArgument("model_path", default_value="", description="model file; empty = bundled demo model"),
        DeclareLaunchArgument("backend", default_value="auto", description="auto, tensorrt, onnxruntime or torch"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="camera image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info", description="camera_info topic"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its outputs"),
        DeclareLaunchArgument("params_file", default_value=default_params, description="ROS parameters YAML file"),
        Node(
            package="disdepth_ros",
            executable="depth_node",
            name="depth_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            emulate_tty=True,
            parameters=[
                LaunchConfiguration("params_file"),
                {"model_path": LaunchConfiguration("model_path"), "backend": LaunchConfiguration("backend")},
            ],
            remappings=[
                ("image", image),
                ("camera_info", camera_info),
                ("image/compressed", PythonExpression(["'", image, "' + '/compressed'"])),
            ],
        ),
    ])
