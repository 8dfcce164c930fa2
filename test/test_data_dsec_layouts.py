"""DSEC-Semantic in its two released layouts (official download, ESS's loader) and its
blosc-compressed event files: read alike, the layout named, clear errors for what is missing."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from helpers.real_datasets import DSEC_STAMPS_US, T_OFFSET_US, write_dsec_sequence
from ness_ros.data import real_datasets
from ness_ros.data.dsec import DsecSequence, detect_layout, list_sequences
from ness_ros.data.errors import DataError


def test_both_layouts_read_alike_and_say_which(tmp_path):
    read = {}
    for layout in ("official", "ess"):
        folder, ev = write_dsec_sequence(tmp_path / layout, layout)
        assert list_sequences(tmp_path / layout, "train") == [folder]
        with DsecSequence(folder) as seq:
            assert seq.layout.name == layout
            assert seq.t_offset_us == T_OFFSET_US and seq.num_events == len(ev["t"])
            np.testing.assert_array_equal(seq.stamps_us, DSEC_STAMPS_US)
            assert seq.rectify_map is not None
            batch = seq.read_events(T_OFFSET_US, T_OFFSET_US + 10**6, crop=False)
            np.testing.assert_array_equal(batch.t, (ev["t"] + np.int64(T_OFFSET_US)) * 1000)
            windows = list(seq.windows(window_us=50_000, mapped=False))
            read[layout] = [(w.stamp_ns, w.label, w.events.events) for w in windows]
    assert "official layout (11classes/*.png, zurich_city_00_a_semantic_timestamps.txt)" in \
        detect_layout(tmp_path / "official" / "train" / "zurich_city_00_a").describe()
    assert "ess layout (semantic/11classes/data/*.png, semantic/timestamps.txt)" in \
        detect_layout(tmp_path / "ess" / "train" / "zurich_city_00_a").describe()
    assert len(read["official"]) == len(DSEC_STAMPS_US)
    for a, b in zip(read["official"], read["ess"], strict=True):
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])


def test_neither_or_both_layouts_name_the_expected_paths(tmp_path):
    folder, _ = write_dsec_sequence(tmp_path, "official")
    shutil.move(folder / "11classes", folder / "19classes")
    with pytest.raises(DataError, match=r"found only .*19classes: ness_ros reads the 11-class.*"
                                        r"official: .*/11classes/\*.png and .*zurich_city_00_a_"
                                        r"semantic_timestamps.txt; ess: .*/semantic/11classes/"
                                        r"data/\*.png and .*/semantic/timestamps.txt"):
        DsecSequence(folder)
    shutil.rmtree(folder / "19classes")
    with pytest.raises(DataError, match="missing DSEC 11-class label folder"):
        detect_layout(folder)
    (folder / "11classes").mkdir()
    (folder / "semantic" / "11classes" / "data").mkdir(parents=True)
    with pytest.raises(DataError, match="holds both DSEC-Semantic layouts"):
        detect_layout(folder)
    (folder / "11classes").rmdir()
    with pytest.raises(DataError, match=r"missing label timestamps .*semantic/timestamps.txt "
                                        r"\(ess layout"):
        detect_layout(folder)


@pytest.mark.skipif(real_datasets.hdf5plugin_version() is None, reason="needs hdf5plugin")
def test_blosc_compressed_events_read_with_hdf5plugin(tmp_path):
    folder, ev = write_dsec_sequence(tmp_path, "ess")
    with h5py.File(folder / "events" / "left" / "events.h5") as f:
        plist = f["events/t"].id.get_create_plist()
        assert [plist.get_filter(i)[0] for i in range(plist.get_nfilters())] == [32001]
    with DsecSequence(folder) as seq:
        batch = seq.read_events(T_OFFSET_US, T_OFFSET_US + 10**6, crop=False)
    np.testing.assert_array_equal(batch.x, ev["x"])
    np.testing.assert_array_equal(batch.polarity, ev["p"])


@pytest.mark.skipif(real_datasets.hdf5plugin_version() is None, reason="needs hdf5plugin")
def test_without_hdf5plugin_the_error_names_it_and_how_to_install(tmp_path, monkeypatch):
    folder, _ = write_dsec_sequence(tmp_path, "official")
    # As on a machine without hdf5plugin: blosc (32001) unavailable, the package not importable.
    monkeypatch.setattr(real_datasets, "filter_available", lambda code: code != 32001)
    monkeypatch.setattr(real_datasets, "hdf5plugin_version", lambda: None)
    with pytest.raises(DataError, match=r"events.h5: dataset /events/x needs HDF5 filter 32001 "
                                        r"\(blosc\), which is not available: the Python package "
                                        r"hdf5plugin, .* not installed: pip install "
                                        r"hdf5plugin==7.1.0 \(or bash scripts/setup_env.sh"):
        DsecSequence(folder)
    # Installed, but without the filter: the plugin path is what is missing.
    monkeypatch.setattr(real_datasets, "hdf5plugin_version", lambda: "7.1.0")
    with pytest.raises(DataError, match="hdf5plugin 7.1.0 is installed but does not provide it: "
                                        "point HDF5_PLUGIN_PATH"):
        DsecSequence(folder)


def test_the_pin_is_the_requirement():
    from conftest import REPO_ROOT

    pins = (REPO_ROOT / "requirements.txt").read_text().split()
    assert real_datasets.HDF5PLUGIN_REQUIREMENT in pins
