"""The ROS 2 shell: the only code in ness_ros that imports rclpy.

Nodes translate messages and parameters and call the ROS-free core; they hold no algorithm.
"""
