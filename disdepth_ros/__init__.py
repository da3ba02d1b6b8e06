"""DisDepth ROS 2 node package."""
