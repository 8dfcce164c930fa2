"""Segmentation: model inputs, the event-only and hybrid segmenters, evaluation (metrics:
:mod:`ness_ros.metrics`). ROS-free."""
