"""Spiking segmentation models: multi-step spiking layers, EvSegSNN, SegSNN, work counts and
model files (safetensors weights plus a JSON model card).

ROS-free: nothing here imports rclpy. Every error raised here is a :class:`ModelError`.
"""

from ness_ros.models.errors import ModelError
from ness_ros.models.evsegsnn import EvSegSNN
from ness_ros.models.ops import (
    ENERGY_PER_AC_J,
    ENERGY_PER_MAC_J,
    WorkReport,
    count_parameters,
    measure_work,
)
from ness_ros.models.segsnn import SegSNN
from ness_ros.models.spiking import LIF, SURROGATES, ConvLIF, ParametricLIF, SEWBlock
from ness_ros.models.weights import (
    ARCHITECTURES,
    ModelCard,
    default_weights_path,
    load_card,
    load_model,
    model_paths,
    save_model,
)

__all__ = [
    "ARCHITECTURES",
    "ENERGY_PER_AC_J",
    "ENERGY_PER_MAC_J",
    "LIF",
    "SURROGATES",
    "ConvLIF",
    "EvSegSNN",
    "ModelCard",
    "ModelError",
    "ParametricLIF",
    "SEWBlock",
    "SegSNN",
    "WorkReport",
    "count_parameters",
    "default_weights_path",
    "load_card",
    "load_model",
    "measure_work",
    "model_paths",
    "save_model",
]
