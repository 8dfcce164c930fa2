"""Sequences for training and validation, from the on-disk cache (generated on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ness_ros.data.cache import cached_sequence
from ness_ros.data.sequence import SequenceConfig, SyntheticSequence


def load_or_generate(seeds: Sequence[int], config: Any, *,
                     progress: bool = True) -> list[SyntheticSequence]:
    """The sequences of ``seeds`` with ``config``'s duration and size (a TrainConfig)."""
    seq_config = SequenceConfig(width=config.width, height=config.height,
                                duration_s=config.duration_s)
    cache = Path(config.data_dir) if config.data_dir else None
    return [cached_sequence(seed, seq_config, cache_dir=cache, progress=progress)
            for seed in tqdm(seeds, desc="sequences", disable=not progress or len(seeds) < 2)]
