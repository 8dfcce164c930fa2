"""The compressed ``libcaer_cmp`` payload of ``event_camera_msgs/EventPacket`` (numba kernel).

``libcaer_driver`` writes it for iniVation cameras (DAVIS, DVXplorer) when asked to compress; the
layout is that of ros-event-camera/event_camera_codecs' ``libcaer_cmp`` decoder. Little-endian
16-bit words, code in bits 12-15:

- 0x0 TIME_HIGH: time high = bits 0-11 (microseconds >> 12);
- 0x1 TIME_LOW: time low = bits 0-11;
- 0x2 ADDR_X: current x = bits 0-10;
- 0x3 ADDR_Y: y = bits 0-10, polarity = bit 11; emits one event (current x, y, current time);
- 0x4 VECT_BASE_Y: vector base y = bits 0-10, vector polarity = bit 11;
- 0x5 VECT_8: 8-bit mask, an event at (current x, base y + i) for each set bit i, then base y += 8.

Time: ``t = time_base + 1000 * (time_high << 12 | time_low)`` ns, where ``time_base`` (ns) is the
packet's and the 24-bit microsecond offset restarts at 0 with each packet (time high and low are
reset before every packet, as upstream: no rollover inside a packet). x, the vector base y and the
vector polarity carry from one packet to the next, as upstream.

Differences from upstream, chosen for a node that must never decode garbage silently: a word
with an undefined code (0x6-0xF; upstream's ``decode`` skips them, its ``summarize`` throws)
rejects the whole packet with EventError, before any state changes. Events outside the sensor are
returned (upstream drops them); use ``EventBatch.within_bounds``. Output ``t`` is int64 ns.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.cdr import BytesLike
from ness_ros.events.errors import EventError
from ness_ros.events.evt3 import _PACKED  # EVENT_DTYPE with x and y as one uint32

TIME_HIGH, TIME_LOW, ADDR_X, ADDR_Y, VECT_BASE_Y, VECT_8 = range(6)
_WORD = np.dtype("<u2")
#: Largest time offset a packet can carry, ns (24 bits of microseconds).
MAX_OFFSET_NS = ((1 << 24) - 1) * 1000
_INT64_END = 2**63


@njit(cache=True, nogil=True)
def _decode_kernel(words, state, time_base):
    # state (int64): [0] current x, [1] vector base y, [2] vector polarity.
    n = words.size
    # Counting pass, branch-free so that LLVM vectorises it: events and undefined codes.
    count = 0
    bad = 0
    for j in range(n):
        w = np.int64(words[j])
        code = w >> 12
        m = w & 0xFF
        m = m - ((m >> 1) & 0x55)
        m = (m & 0x33) + ((m >> 2) & 0x33)
        m = (m + (m >> 4)) & 0x0F
        count += (code == 3) + m * (code == 5)
        bad += code > 5
    if bad:
        return np.empty(0, dtype=_PACKED), bad
    # One spare slot: a candidate event is written for every word and k advances only on ADDR_Y
    # (no mispredicted branch per word, as in the evt3 kernel).
    out = np.empty(count + 1, dtype=_PACKED)
    x, base_y, vpol = state[0], state[1], state[2]
    high = np.int64(0)
    low = np.int64(0)
    k = 0
    for j in range(n):
        w = np.int64(words[j])
        code = w >> 12
        t = time_base + (high | low) * 1000
        out[k].t = t
        out[k].xy = x | ((w & 0x7FF) << 16)
        out[k].polarity = (w >> 11) & 1
        k += code == 3
        is_x, is_low, is_high = -np.int64(code == 2), -np.int64(code == 1), -np.int64(code == 0)
        x = (x & ~is_x) | (w & 0x7FF & is_x)
        low = (low & ~is_low) | (w & 0xFFF & is_low)
        high = (high & ~is_high) | ((w & 0xFFF) << 12 & is_high)
        if code == 4:
            base_y = w & 0x7FF
            vpol = (w >> 11) & 1
        elif code == 5:
            for b in range(8):
                if (w >> b) & 1:
                    out[k].t = t
                    out[k].xy = x | (((base_y + b) & 0xFFFF) << 16)
                    out[k].polarity = vpol
                    k += 1
            base_y = (base_y + 8) & 0xFFFF
    state[0], state[1], state[2] = x, base_y, vpol
    return out[:count], 0


class LibcaerCmpDecoder:
    """Stateful ``libcaer_cmp`` decoder: feed it the packets of one stream in order.

    Args:
        width: sensor width in pixels (only stored on the returned batches).
        height: sensor height in pixels.
    """

    encoding = "libcaer_cmp"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        self._state = np.zeros(3, dtype=np.int64)
        #: External trigger events in the last decoded payload (the format has none).
        self.triggers = 0

    def reset(self) -> None:
        """Forget x, the vector base y and polarity (as after a restart of the driver)."""
        self._state[:] = 0

    def decode(self, payload: BytesLike | NDArray[np.uint8], time_base: int = 0) -> EventBatch:
        """Decode one packet's ``events`` bytes; ``time_base`` is the packet's, in ns.

        Returns events with t in int64 ns, in the order the words give them.

        Raises:
            EventError: odd byte count, an undefined word code, or times past int64 ns; the
                decoder's state is then left untouched.
        """
        nbytes = len(payload) if not isinstance(payload, np.ndarray) else payload.nbytes
        if nbytes % 2:
            raise EventError(f"libcaer_cmp payload has an odd number of bytes ({nbytes}): not "
                             "16-bit words")
        if not 0 <= time_base < _INT64_END - MAX_OFFSET_NS:
            raise EventError(f"libcaer_cmp: time_base {time_base} ns plus up to {MAX_OFFSET_NS} "
                             "ns of event time overflows int64 nanoseconds")
        words = np.frombuffer(payload, dtype=_WORD)
        events, bad = _decode_kernel(words, self._state, np.int64(time_base))
        if bad:
            first = int(np.flatnonzero((words >> 12) > 5)[0])
            raise EventError(f"libcaer_cmp: {bad} word(s) with an undefined code, the first at "
                             f"word {first} (0x{int(words[first]):04X}, code "
                             f"0x{int(words[first]) >> 12:X}; defined: 0x0-0x5)")
        return EventBatch(events.view(EVENT_DTYPE), self.width, self.height)
