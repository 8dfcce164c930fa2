"""Message types of ness_ros bags: a rosbags typestore with the project's interface packages.

Our custom interfaces (dvs_msgs, event_camera_msgs) are registered from their ``.msg`` text,
found in the repository's ``msg/`` folder or in an installed prefix (``<prefix>/share/<pkg>/msg``,
from ``AMENT_PREFIX_PATH`` and this interpreter's prefix). Their RIHS01 hashes then equal those
of the built interface packages, so ``ros2 bag play`` accepts the bags. ROS-free.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from ness_ros.bag.errors import BagError

IMAGE_TYPE = "sensor_msgs/msg/Image"
EVENT_ARRAY_TYPE = "dvs_msgs/msg/EventArray"
EVENT_PACKET_TYPE = "event_camera_msgs/msg/EventPacket"

#: Event message type -> the name the segmentation nodes' ``event_message`` parameter uses.
EVENT_MESSAGES = {EVENT_ARRAY_TYPE: "dvs", EVENT_PACKET_TYPE: "packet"}
#: The reverse: ``event_message`` name -> message type.
EVENT_TYPES = {kind: msgtype for msgtype, kind in EVENT_MESSAGES.items()}

#: Interface packages registered from their .msg files.
CUSTOM_PACKAGES = ("dvs_msgs", "event_camera_msgs")

_REPO_MSG = Path(__file__).resolve().parents[2] / "msg"


def msg_folder(package: str) -> Path:
    """The folder holding ``package``'s ``.msg`` files: the repository's, else an installed one.

    Raises:
        BagError: no folder with ``.msg`` files was found (the places looked at are named).
    """
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    candidates = [_REPO_MSG / package / "msg"]
    candidates += [Path(p) / "share" / package / "msg" for p in [*prefixes, sys.prefix]]
    for folder in candidates:
        if any(folder.glob("*.msg")):
            return folder
    raise BagError(f"no .msg files of {package} in any of: "
                   f"{', '.join(str(c) for c in candidates)}")


@lru_cache(maxsize=1)
def typestore():
    """The ROS 2 Kilted typestore with :data:`CUSTOM_PACKAGES` registered (built once)."""
    store = get_typestore(Stores.ROS2_KILTED)
    types: dict = {}
    for package in CUSTOM_PACKAGES:
        for path in sorted(msg_folder(package).glob("*.msg")):
            types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
    store.register(types)
    return store
