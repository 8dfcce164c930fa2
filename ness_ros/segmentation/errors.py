"""The exceptions of the segmentation layer.

Configuration that does not validate (:class:`~ness_ros.segmentation.gating_config.GatingConfig`,
guided upsampling, the working resolution, evaluation options) raises plain ``ValueError``
naming the field; a rejected input message raises :class:`InputError`.
"""

from __future__ import annotations

from ness_ros.events.errors import EventError

__all__ = ["InputError"]


class InputError(EventError):
    """A rejected input message; ``kind`` is the reason's counter name (``"encoding"``...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
