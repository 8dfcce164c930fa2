"""Sequences for training and validation, from the on-disk cache (generated on first use)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ness_ros.data.cache import cached_sequence, is_cached
from ness_ros.data.sequence import SequenceConfig, SyntheticSequence


def load_or_generate(seeds: Sequence[int], config: Any, *,
                     progress: bool = True) -> list[SyntheticSequence]:
    """The sequences of ``seeds`` with ``config``'s duration and size (a TrainConfig).

    Missing sequences are generated first, by ``config.data_workers`` processes when that is
    above 1 (each sequence is independent and generation is CPU-bound); as many threads read
    them.
    """
    seq_config = SequenceConfig(width=config.width, height=config.height,
                                duration_s=config.duration_s)
    cache = Path(config.data_dir) if config.data_dir else None
    workers = int(getattr(config, "data_workers", 0))
    missing = [seed for seed in seeds if not is_cached(seed, seq_config, cache_dir=cache)]
    if workers > 1 and len(missing) > 1:
        generate = partial(_generate_into_cache, config=seq_config, cache_dir=cache)
        # spawn: a forked child would inherit torch's thread pools in an undefined state
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(missing)), mp_context=context) as pool:
            for _ in tqdm(pool.map(generate, missing), total=len(missing),
                          desc="generate sequences", disable=not progress):
                pass
    load = partial(cached_sequence, config=seq_config, cache_dir=cache, progress=progress)
    # Reading is mostly zlib inflation, which releases the GIL: threads overlap it.
    with ThreadPoolExecutor(max(1, min(workers, len(seeds)))) as pool:
        return list(tqdm(pool.map(load, seeds), total=len(seeds), desc="sequences",
                         disable=not progress or len(seeds) < 2))


def _generate_into_cache(seed: int, *, config: SequenceConfig, cache_dir: Path | None) -> int:
    cached_sequence(seed, config, cache_dir=cache_dir, progress=False)
    return seed
