"""The synthetic drive the bag tests record: seed 7, 2 s, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ness_ros.bag import RecordOptions, record_sequence
from ness_ros.data.cache import cached_sequence
from ness_ros.data.sequence import SequenceConfig, SyntheticSequence


def drive(factory: pytest.TempPathFactory, width: int, height: int) -> SyntheticSequence:
    """The drive at ``width`` x ``height``, from the session's cache."""
    config = SequenceConfig(width=width, height=height, duration_s=2.0)
    return cached_sequence(7, config, cache_dir=factory.getbasetemp() / "bag_cache",
                           progress=False)


def recorded_bag(sequence: SyntheticSequence, factory: pytest.TempPathFactory) -> Path:
    """``sequence`` recorded with the default options (mcap, EventArrays) in a new folder."""
    path = factory.mktemp("bags") / "synthetic"
    record_sequence(sequence, path, RecordOptions(progress=False))
    return path
