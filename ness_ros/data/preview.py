"""Pictures of a sequence for humans: event images and frame | events | labels panels."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ness_ros.data.sequence import FrameWindow
from ness_ros.events.batch import EventBatch
from ness_ros.labels import colourize

ON_COLOUR = np.array([220, 30, 30], np.uint8)
OFF_COLOUR = np.array([30, 60, 220], np.uint8)


def event_image(events: EventBatch) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 RGB: white where no event, red where ON events outnumber OFF, blue where
    OFF outnumber ON, grey on ties."""
    h, w = events.height, events.width
    idx = events.y.astype(np.int64) * w + events.x
    on = np.bincount(idx[events.polarity == 1], minlength=h * w).reshape(h, w)
    off = np.bincount(idx[events.polarity == 0], minlength=h * w).reshape(h, w)
    img = np.full((h, w, 3), 255, np.uint8)
    img[(on > 0) & (on == off)] = 128
    img[on > off] = ON_COLOUR
    img[off > on] = OFF_COLOUR
    return img


def preview_panel(window: FrameWindow) -> NDArray[np.uint8]:
    """(H, 3 W, 3) uint8 RGB: the frame, its event window and its colourized labels."""
    return np.concatenate([window.frame, event_image(window.events), colourize(window.label)],
                          axis=1)
