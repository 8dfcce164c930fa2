"""Prophesee EVT 3.0 decoding and encoding with numba (a counting pass, then one fill loop).

EVT 3.0 is a stream of little-endian 16-bit words, type in bits 12-15 (see EVENT_FORMATS.md):
0x0 ADDR_Y, 0x2 ADDR_X (emits one event), 0x3 VECT_BASE_X, 0x4 VECT_12, 0x5 VECT_8, 0x6 TIME_LOW,
0x8 TIME_HIGH. External trigger words (0xA) are counted per packet (:attr:`Evt3Decoder.triggers`,
those after the first valid time, like events) but not decoded further; other word types (OTHERS
0xE, CONTINUED 0x7/0xF, undefined ones) are skipped (upstream raises on the undefined types 0x1,
0x9, 0xB-0xD).

The decoder follows ros-event-camera/event_camera_codecs' ``evt3::Decoder``:

- time in microseconds is ``time_high << 12 | time_low``; output ``t`` is that times 1000 (int64
  nanoseconds of *sensor* time; ``EventPacket.time_base`` is ignored for evt3, as upstream);
- a wrap (2^24 us) is counted only when TIME_HIGH drops by more than 10; TIME_HIGH does not reset
  time low;
- until a TIME_HIGH has been followed by a TIME_LOW, only time words are read: events (and ADDR_Y,
  VECT_BASE_X) before that point are dropped.

One deliberate difference: upstream forgets a TIME_HIGH seen at the very end of a packet when
looking for the first valid time; here all state (y, time, base x, vector polarity, wrap count and
that search) carries from packet to packet, so decoding is identical however the stream is split.
Events outside the sensor are returned (upstream drops them); use ``EventBatch.within_bounds``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.errors import EventError

ADDR_Y, ADDR_X, VECT_BASE_X, VECT_12, VECT_8 = 0x0, 0x2, 0x3, 0x4, 0x5
TIME_LOW, TIME_HIGH, EXT_TRIGGER = 0x6, 0x8, 0xA
#: Largest step between two emitted TIME_HIGH values that the decoder still reads correctly.
_MAX_HIGH_STEP = 4096 - 11
# Decoder state (int64 array): [0] y, [1] time high incl. wrap bits, [2] time low, [3] vector
# base x, [4] vector polarity, [5] valid time found, [6] TIME_HIGH seen while searching for it.
_VALID = 5
_WORD = np.dtype("<u2")
# EVENT_DTYPE's bytes with x and y as one little-endian uint32 (x | y << 16): the kernel then
# stores three fields per word instead of four (about 1.2x faster); callers see EVENT_DTYPE.
_PACKED = np.dtype([("t", "<i8"), ("xy", "<u4"), ("polarity", "u1")])
assert EVENT_DTYPE.fields is not None
assert _PACKED.itemsize == EVENT_DTYPE.itemsize and EVENT_DTYPE.fields["y"][1] == 10


@njit(cache=True, nogil=True)
def _update_high(t: int, high: int) -> int:
    last = (high >> 12) & 0xFFF
    if t < last and last - t > 10:
        high += 1 << 24
    return (high & ~((1 << 24) - 1)) | (t << 12)


@njit(cache=True, nogil=True, inline="always")
def _plain_word(w, code, out, k, y, high, low):
    """What every word does in both decoding loops: write the candidate event of an ADDR_X at
    ``out[k]`` (kept, k advanced, only for an ADDR_X) and follow ADDR_Y, TIME_LOW and TIME_HIGH.
    Returns the new (k, y, high, low). Inlined: a call per word would cost more than the body."""
    out[k].t = (high | low) * 1000
    out[k].xy = (w & 0x7FF) | (y << 16)
    out[k].polarity = (w >> 11) & 1
    k += code == 0x2
    # Masks rather than conditional expressions: LLVM turns those into a switch of
    # mispredicted branches; this form compiles to conditional moves (about 1.4x faster).
    is_y, is_low = -np.int64(code == 0x0), -np.int64(code == 0x6)
    y = (y & ~is_y) | (w & 0x7FF & is_y)
    low = (low & ~is_low) | (w & 0xFFF & is_low)
    if code == 0x8:
        high = _update_high(w & 0xFFF, high)
    return k, y, high, low


@njit(cache=True, nogil=True)
def _decode_kernel(words, state):
    n = words.size
    y, high, low = state[0], state[1], state[2]
    base_x, vpol, valid, seen_high = state[3], state[4], state[5], state[6]
    i = 0
    while valid == 0 and i < n:
        w = np.int64(words[i])
        code = w >> 12
        if code == 0x6:
            low = w & 0xFFF
            if seen_high != 0:
                valid = 1
        elif code == 0x8:
            high = _update_high(w & 0xFFF, high)
            seen_high = 1
        i += 1
    # Loops from 0 over the rest, and two separate branch-free counting loops: both measurably
    # faster than the same work on range(i, n) or in one loop.
    words = words[i:]
    n = words.size
    count = 0
    triggers = 0
    for j in range(n):
        count += (words[j] >> 12) == 0x2
        triggers += (words[j] >> 12) == 0xA
    vector_words = 0
    for j in range(n):
        vector_words += ((words[j] >> 12) - 0x3) & 0xFFFF < 0x3
    if vector_words:
        for j in range(n):
            w = np.int64(words[j])
            code = w >> 12
            if code == 0x4 or code == 0x5:
                mask = w & (0xFFF if code == 0x4 else 0xFF)
                while mask:
                    mask &= mask - 1
                    count += 1
    # One spare slot: the loops write a candidate event at out[k] for every word and advance k
    # only on ADDR_X, which avoids a mispredicted branch per word. The first loop is the common
    # case without vector words.
    out = np.empty(count + 1, dtype=_PACKED)
    k = 0
    if vector_words == 0:
        for j in range(n):
            w = np.int64(words[j])
            k, y, high, low = _plain_word(w, w >> 12, out, k, y, high, low)
    else:
        for j in range(n):
            w = np.int64(words[j])
            code = w >> 12
            k, y, high, low = _plain_word(w, code, out, k, y, high, low)
            if code == 0x3:
                base_x = w & 0x7FF
                vpol = (w >> 11) & 1
            elif code == 0x4 or code == 0x5:
                nbits = 12 if code == 0x4 else 8
                t = (high | low) * 1000
                for b in range(nbits):
                    if (w >> b) & 1:
                        out[k].t = t
                        out[k].xy = ((base_x + b) & 0xFFFF) | (y << 16)
                        out[k].polarity = vpol
                        k += 1
                base_x = (base_x + nbits) & 0xFFFF
    state[0], state[1], state[2], state[3] = y, high, low, base_x
    state[4], state[5], state[6] = vpol, valid, seen_high
    return out[:count], triggers


class Evt3Decoder:
    """Stateful EVT 3.0 decoder: feed it the packets of one stream in order.

    Args:
        width: sensor width in pixels (only stored on the returned batches).
        height: sensor height in pixels.
    """

    encoding = "evt3"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        self._state = np.zeros(7, dtype=np.int64)
        #: External trigger words (0xA) in the last decoded payload, after the first valid time.
        self.triggers = 0

    def reset(self) -> None:
        """Forget all stream state (as after a restart of the sensor)."""
        self._state[:] = 0
        self.triggers = 0

    @property
    def has_valid_time(self) -> bool:
        """True once a TIME_HIGH followed by a TIME_LOW has been seen."""
        return bool(self._state[_VALID])

    def decode(self, payload: bytes | bytearray | memoryview | NDArray[np.uint8],
               time_base: int = 0) -> EventBatch:
        """Decode one packet's ``events`` bytes; returns events with t in int64 ns (sensor time).

        ``time_base`` is accepted for the common decoder interface and ignored (as upstream).

        Side effect: :attr:`triggers` is set to the packet's external trigger words.

        Raises:
            EventError: odd byte count (the state, ``triggers`` included, is then left
                untouched).
        """
        nbytes = len(payload) if not isinstance(payload, np.ndarray) else payload.nbytes
        if nbytes % 2:
            raise EventError(f"evt3 payload has an odd number of bytes ({nbytes}): not 16-bit "
                             "words")
        words = np.frombuffer(payload, dtype=_WORD)
        events, self.triggers = _decode_kernel(words, self._state)
        events = events.view(EVENT_DTYPE)
        return EventBatch(events, self.width, self.height)


@njit(cache=True, nogil=True)
def _encode_kernel(us, x, y, pol, state):
    # state: last emitted full time high (us >> 12, -1: none), last time low, last y (-1: none)
    out = np.empty(0, dtype=np.uint16)
    for fill in range(2):
        high, low, last_y = state[0], state[1], state[2]
        k = 0
        for i in range(us.size):
            new_high = us[i] >> 12
            if new_high != high:
                if high >= 0:
                    while new_high - high > _MAX_HIGH_STEP:
                        high += 2048
                        if fill:
                            out[k] = 0x8000 | (high & 0xFFF)
                        k += 1
                high = new_high
                if fill:
                    out[k] = 0x8000 | (high & 0xFFF)
                k += 1
            if (us[i] & 0xFFF) != low:
                low = us[i] & 0xFFF
                if fill:
                    out[k] = 0x6000 | low
                k += 1
            if y[i] != last_y:
                last_y = y[i]
                if fill:
                    out[k] = last_y
                k += 1
            if fill:
                out[k] = 0x2000 | (pol[i] << 11) | x[i]
            k += 1
        if fill:
            state[0], state[1], state[2] = high, low, last_y
        else:
            out = np.empty(k, dtype=np.uint16)
    return out


class Evt3Encoder:
    """Stateful EVT 3.0 encoder: one call per packet, consecutive packets form one stream.

    Times are encoded as microseconds since ``origin_ns`` (floored), modulo 2^24 us with TIME_HIGH
    steps small enough that :class:`Evt3Decoder` counts every wrap; the decoder therefore returns
    ``(t - origin_ns) // 1000 * 1000``. With ``resync`` (default) each packet restarts with
    TIME_HIGH, TIME_LOW and ADDR_Y so that a decoder joining mid-stream loses nothing after it.
    Only ADDR_X words are produced (no vectors). x and y must be < 2048.
    """

    def __init__(self, *, origin_ns: int = 0, resync: bool = True) -> None:
        self.origin_ns = int(origin_ns)
        self.resync = resync
        self._state = np.array([-1, -1, -1], dtype=np.int64)
        self._last_us = -1

    def reset(self) -> None:
        self._state[:] = -1
        self._last_us = -1

    def encode(self, batch: EventBatch) -> bytes:
        """The ``events`` bytes of one EventPacket for ``batch`` (sorted by time)."""
        if len(batch) == 0:
            return b""
        us = (batch.t - self.origin_ns) // 1000
        if us[0] < max(self._last_us, 0) or not batch.is_time_sorted():
            raise EventError(f"evt3 encoding needs times sorted and >= the previous packet's and "
                             f"origin_ns {self.origin_ns}; first time is {int(batch.t[0])} ns")
        if int(batch.x.max()) >= 2048 or int(batch.y.max()) >= 2048:
            raise EventError(f"evt3 encodes x and y < 2048, got x up to {int(batch.x.max())} "
                             f"and y up to {int(batch.y.max())}")
        if self.resync:
            self._state[1:] = -1
        head_high = int(self._state[0]) if self.resync else -1
        pol = (batch.polarity != 0).astype(np.int64)
        x, y = batch.x.astype(np.int64), batch.y.astype(np.int64)
        words = _encode_kernel(us, x, y, pol, self._state)
        if head_high >= 0:  # re-emit the current TIME_HIGH so that the packet stands alone
            words = np.concatenate([np.array([0x8000 | (head_high & 0xFFF)], np.uint16), words])
        self._last_us = int(us[-1])
        return words.astype("<u2", copy=False).tobytes()
