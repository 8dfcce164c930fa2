"""Helpers shared by the loaders of real labelled data sets (:mod:`~ness_ros.data.dsec`,
:mod:`~ness_ros.data.ddd17`): label images, class-id checks, HDF5 filter checks.

Every failure is a :class:`~ness_ros.data.errors.DataError` whose message names the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import cv2
import h5py
import numpy as np
from numpy.typing import NDArray

from ness_ros.data.errors import DataError
from ness_ros.labels import IGNORE_LABEL

#: Names of the registered HDF5 filters that data sets commonly use (id -> name).
_FILTER_NAMES = {307: "bzip2", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle",
                 32015: "zstd", 32026: "blosc2"}


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a directory, else DataError naming ``what`` it should hold."""
    if not path.is_dir():
        raise DataError(f"missing {what} folder {path}")
    return path


def read_label_png(path: Path, shape: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """A single-channel 8-bit label image as (H, W) uint8 class ids.

    Args:
        path: PNG file.
        shape: expected (height, width) in pixels, or None for any size.

    Raises:
        DataError: unreadable file, more than one channel, not 8-bit, or another size.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError(f"cannot read label image {path}")
    if image.ndim != 2 or image.dtype != np.uint8:
        raise DataError(f"label image {path} must be single-channel uint8, got shape "
                        f"{image.shape} of {image.dtype}")
    if shape is not None and image.shape != tuple(shape):
        raise DataError(f"label image {path} is {image.shape[1]} x {image.shape[0]} (W x H), "
                        f"expected {shape[1]} x {shape[0]}")
    return cast(NDArray[np.uint8], image)  # dtype checked above


def check_class_ids(label: NDArray[np.uint8], num_classes: int, source: Path | str) -> None:
    """Raise DataError if ``label`` holds ids other than ``0..num_classes-1`` and 255 (ignore)."""
    present = np.bincount(label.ravel(), minlength=256)
    present[:num_classes] = 0
    present[IGNORE_LABEL] = 0
    unknown = np.flatnonzero(present)
    if unknown.size:
        raise DataError(f"{source}: unknown class ids {unknown[:10].tolist()} (expected "
                        f"0..{num_classes - 1} or {IGNORE_LABEL} for ignore)")


def remap_labels(label: NDArray[np.uint8], table: NDArray[np.uint8],
                 source: Path | str) -> NDArray[np.uint8]:
    """Map class ids through ``table`` (source id -> target id, shape (K,)); 255 stays 255.

    Raises DataError for ids that are neither in ``0..K-1`` nor 255.
    """
    check_class_ids(label, len(table), source)
    lut = np.full(256, IGNORE_LABEL, dtype=np.uint8)
    lut[:len(table)] = table
    return lut[label]


#: The requirements.txt pin, named in errors about missing filters.
HDF5PLUGIN_REQUIREMENT = "hdf5plugin==7.1.0"


def filter_available(code: int) -> bool:
    """Whether HDF5 can decode filter ``code`` here (hdf5plugin registers its filters on import)."""
    return bool(h5py.h5z.filter_avail(code))


def hdf5plugin_version() -> str | None:
    """The version of the importable ``hdf5plugin`` (importing it registers its filters), or
    None when it is not installed."""
    try:
        import hdf5plugin
    except ImportError:
        return None
    return str(getattr(hdf5plugin, "version", "unknown"))


def check_hdf5_filters(path: Path, dataset: h5py.Dataset) -> None:
    """DataError if ``dataset`` needs an HDF5 filter this h5py build cannot decode.

    The message names the filter and the missing piece: ``hdf5plugin`` and how to install it
    when it is absent; a plugin path when hdf5plugin is there but lacks the filter.
    """
    plist = dataset.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code, _flags, _values, name = plist.get_filter(i)
        if filter_available(code):
            continue
        label = _FILTER_NAMES.get(code) or name.decode(errors="replace") or "unknown"
        version = hdf5plugin_version()
        if version is None:
            fix = (f"the Python package hdf5plugin, which provides it, is not installed: pip "
                   f"install {HDF5PLUGIN_REQUIREMENT} (or bash scripts/setup_env.sh, which "
                   "installs requirements.txt); ness_ros imports it when present")
        else:
            fix = (f"hdf5plugin {version} is installed but does not provide it: point "
                   "HDF5_PLUGIN_PATH at a folder with the filter's HDF5 plugin")
        raise DataError(f"{path}: dataset {dataset.name} needs HDF5 filter {code} ({label}), "
                        f"which is not available: {fix}")
