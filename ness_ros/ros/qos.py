"""QoS profiles of ness_ros topics."""

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

#: Inputs: drivers publish best effort; keep the last few so a burst is not lost at once.
SENSOR_QOS: QoSProfile = qos_profile_sensor_data

#: Masks, latency: reliable so that recorders and evaluators see every published mask.
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                        reliability=ReliabilityPolicy.RELIABLE)

#: LabelInfo: latched, so a late subscriber still gets the class map.
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
