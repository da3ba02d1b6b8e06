"""Launch the DisDepth depth node: ``ros2 launch disdepth_ros depth.launch.py image:=/cam/image_raw``.

Parameters come from ``params_file`` (default: the package's config/depth.yaml); the
``model_path``/``backend`` arguments override it only when given (empty = keep the file's
value), so a model configured in your own YAML is not silently replaced. The node subscribes
``image`` (or ``image/compressed`` with use_compressed), ``camera_info`` and (with
``scale_anchor: sparse_depth``) ``sparse_depth``, remapped here; outputs keep their names
(``depth/image``, ``depth/points``...) inside ``namespace``.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _depth_node(context, *args, **kwargs):
    image = LaunchConfiguration("image").perform(context)
    overrides = {
        "model_path": LaunchConfiguration("model_path").perform(context),
        "backend": LaunchConfiguration("backend").perform(context),
    }
    return [
        Node(
            package="disdepth_ros",
            executable="depth_node",
            name="depth_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            emulate_tty=True,
            parameters=[
                LaunchConfiguration("params_file").perform(context),
                {name: value for name, value in overrides.items() if value},
            ],
            remappings=[
                ("image", image),
                ("camera_info", LaunchConfiguration("camera_info").perform(context)),
                ("image/compressed", image + "/compressed"),
                ("sparse_depth", LaunchConfiguration("sparse_depth").perform(context)),
            ],
        )
    ]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("disdepth_ros"), "config", "depth.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("model_path", default_value="", description="model file; empty = the params file's value (default: bundled demo model)"),
        DeclareLaunchArgument("backend", default_value="", description="auto, tensorrt, onnxruntime, openvino or torch; empty = the params file's value"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="camera image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info", description="camera_info topic"),
        DeclareLaunchArgument("sparse_depth", default_value="sparse_depth",
                              description="sparse depth topic for scale_anchor sparse_depth (32FC1 m / 16UC1 mm, registered)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its outputs"),
        DeclareLaunchArgument("params_file", default_value=default_params, description="ROS parameters YAML file"),
        OpaqueFunction(function=_depth_node),
    ])
