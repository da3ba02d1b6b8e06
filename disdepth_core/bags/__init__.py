"""rosbag2 files without a ROS installation: reading, evaluation, replay, writing, the HTML report.

Built on ``rosbags`` (pure Python; sqlite3 and MCAP storage). Messages are decoded by the same
duck-typed functions as the node (:mod:`disdepth_core.image_decoding`) and run through the same
frame pipeline, so a recorded drive is scored exactly as the robot would compute it.
"""
