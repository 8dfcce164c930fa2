"""Data: the synthetic driving-scene generator (scenes, event simulator, sequences), its
colour-only baseline, and sequence storage. ROS-free: nothing here imports rclpy.

The embedded default data set: :func:`generate_sequence` turns a seed into RGB frames at 20 Hz,
per-pixel labels of the six classes of :mod:`ness_ros.labels` and the events of a simulated
DAVIS346-like sensor.
"""

from ness_ros.data.colour_baseline import ColourBaseline, colour_baseline_scores
from ness_ros.data.errors import DataError
from ness_ros.data.event_simulator import EventSimConfig, EventSimulator
from ness_ros.data.scene import Scene, SceneConfig
from ness_ros.data.sequence import (
    FrameWindow,
    SequenceConfig,
    SyntheticSequence,
    generate_sequence,
    stream_sequence,
)
from ness_ros.data.storage import find_sequences, load_sequence, save_sequence

__all__ = [
    "ColourBaseline",
    "DataError",
    "EventSimConfig",
    "EventSimulator",
    "FrameWindow",
    "Scene",
    "SceneConfig",
    "SequenceConfig",
    "SyntheticSequence",
    "colour_baseline_scores",
    "find_sequences",
    "generate_sequence",
    "load_sequence",
    "save_sequence",
    "stream_sequence",
]
