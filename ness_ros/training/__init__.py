"""Training of the segmentation models (``ness train``): data, loop, checkpoints. ROS-free."""
