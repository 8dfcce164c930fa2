"""Every decoder, fed random bytes and mutated valid messages, raises nothing but EventError.

The inputs and checks are those of ``ness fuzz`` (:mod:`ness_ros.fuzzing`): its seed messages,
its mutator and its targets (each decoder with its result's contract), here with fixed example
counts instead of a time budget."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ness_ros.events import (
    EventBatch,
    EventError,
    EventPacketDecoder,
    Evt3Decoder,
    LibcaerCmpDecoder,
    decode_event_array,
    decode_image_cdr,
)
from ness_ros.fuzzing import MAX_RANDOM_BYTES, make_targets, mutate, seed_messages

# Random bytes: 3,000 examples x 2 inputs; mutations: 1,000 examples x 12 seed messages. That is
# 18,000 inputs to every target, in well under 20 s.
RANDOM_EXAMPLES = 3000
MUTATION_EXAMPLES = 1000

SEEDS = seed_messages()
#: Built once: the stateful decoders and streams are shared on purpose, as in ``ness fuzz``:
#: garbage must not break the state they carry.
TARGETS = make_targets()


def only_event_errors(data: bytes) -> None:
    for name, target in TARGETS.items():
        try:
            target(data)  # checks the result's contract itself (AssertionError)
        except EventError:
            continue
        except Exception as exc:
            raise AssertionError(f"{name} raised {type(exc).__name__}: {exc} "
                                 f"on {data.hex()}") from exc


@settings(max_examples=RANDOM_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=MAX_RANDOM_BYTES))
def test_random_bytes(data):
    only_event_errors(data)
    only_event_errors(b"\x00\x01\x00\x00" + data)  # past the encapsulation check


@settings(max_examples=MUTATION_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.binary(min_size=4, max_size=16), other=st.sampled_from(SEEDS))
def test_mutated_messages(ops, other):
    for seed in SEEDS:
        only_event_errors(mutate(seed, ops, other))


def test_seeds_are_valid():
    """Each seed decodes to what was encoded: mutations start from valid messages."""
    assert len(SEEDS) == 12
    assert len(decode_event_array(SEEDS[0])[0]) == 9
    assert len(decode_event_array(SEEDS[1])[0]) == 0
    for raw in SEEDS[2:5]:  # evt3, libcaer, mono packets of the same 9 events
        assert len(EventPacketDecoder().decode(raw)[0]) == 9
    images = [decode_image_cdr(raw) for raw in SEEDS[5:10]]
    assert [(pixels.shape, pixels.dtype, encoding) for pixels, encoding, _ in images] == [
        ((3, 4, 3), np.uint8, "rgb8"), ((2, 2, 4), np.uint8, "bgra8"),
        ((2, 3), np.uint16, "mono16"), ((2, 2), np.float32, "32FC1"),
        ((2, 3), np.uint16, "mono16")]
    np.testing.assert_array_equal(images[4][0], images[2][0].byteswap())  # big-endian copy
    words = Evt3Decoder(64, 48).decode(SEEDS[10])
    compressed = LibcaerCmpDecoder(64, 48).decode(SEEDS[11], 10**15)
    assert isinstance(words, EventBatch) and len(words) == 17
    assert isinstance(compressed, EventBatch) and len(compressed) == 5
