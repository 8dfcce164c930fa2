"""Generated sequences cached on disk, keyed by seed, configuration and generator source.

Generating a sequence takes seconds per simulated second; training, evaluation, benchmarks and
the synthetic camera node reuse the same sequences, so each is generated once. The key includes
a hash of the generator's source files: editing the generator invalidates the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

from ness_ros.data.sequence import SequenceConfig, SyntheticSequence, generate_sequence
from ness_ros.data.storage import load_sequence, save_sequence


def default_cache_dir() -> Path:
    """``$NESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/ness_ros``, else ``~/.cache/ness_ros``."""
    if os.environ.get("NESS_CACHE_DIR"):
        return Path(os.environ["NESS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ness_ros"


#: Modules of the data package that are not the generator: editing them keeps the cache valid.
NOT_GENERATOR = {"__init__.py", "cache.py", "colour_baseline.py", "ddd17.py", "dsec.py",
                 "errors.py", "preview.py", "real_datasets.py", "stats.py"}


@lru_cache(maxsize=1)
def generator_version() -> str:
    """Hash of the generator's source (the data package but its loaders and tools), part of
    every cache key."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name not in NOT_GENERATOR:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_key(seed: int, config: SequenceConfig) -> str:
    text = json.dumps({"seed": int(seed), "config": config.to_dict(),
                       "generator": generator_version()}, sort_keys=True)
    return f"seed{int(seed)}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def sequence_folder(seed: int, config: SequenceConfig | None = None, *,
                    cache_dir: Path | None = None) -> Path:
    """Where the sequence of ``seed`` and ``config`` is (or would be) cached."""
    config = config or SequenceConfig()
    return (cache_dir or default_cache_dir()) / "sequences" / cache_key(seed, config)


def is_cached(seed: int, config: SequenceConfig | None = None, *,
              cache_dir: Path | None = None) -> bool:
    return (sequence_folder(seed, config, cache_dir=cache_dir) / "meta.json").is_file()


def cached_sequence(seed: int, config: SequenceConfig | None = None, *,
                    cache_dir: Path | None = None, progress: bool = True) -> SyntheticSequence:
    """The sequence of ``seed`` and ``config``: read from the cache, or generated and stored."""
    config = config or SequenceConfig()
    folder = sequence_folder(seed, config, cache_dir=cache_dir)
    if (folder / "meta.json").is_file():
        return load_sequence(folder)
    sequence = generate_sequence(seed, config=config, progress=progress,
                                 duration_s=config.duration_s, width=config.width,
                                 height=config.height, fps=config.fps)
    partial = folder.with_name(folder.name + f".partial{os.getpid()}")
    save_sequence(sequence, partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return sequence
