"""Segmentation: metrics, model inputs, the event-only and hybrid segmenters. ROS-free."""
