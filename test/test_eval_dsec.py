"""``ness eval sweep --dataset dsec``: the hybrid method's threshold sweep on DSEC-Semantic
sequences with their frames (tiny files in the released layouts), in the model's 11 classes, its
events read window by window from ``events.h5``, each row's ceiling a range (the labels leave
pixels unlabelled); and ``ness eval ceiling``'s refusal there."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from helpers.real_datasets import DSEC_FRAME_STAMPS_US, T_OFFSET_US, write_dsec_sequence
from ness_ros.cli.eval_verb import NODE
from ness_ros.cli.main import main
from ness_ros.data.dsec import DsecSequence
from ness_ros.data.dsec_eval import DsecEvalSequence, DsecEvents
from ness_ros.labels import DSEC11_CLASS_NAMES, IGNORE_LABEL
from ness_ros.metrics import confusion_matrix, mean_iou
from ness_ros.models.tiny import tiny_model_file
from ness_ros.models.weights import load_model
from ness_ros.segmentation.evaluation import SourceEvents
from ness_ros.segmentation.gating_config import PUBLISHED_RULE
from ness_ros.segmentation.hybrid import HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.pipeline import FramePipeline, RecordedEvents
from ness_ros.segmentation.working_resolution import SensorRescaler, WorkingResolution

SEQUENCES = ("zurich_city_14_c", "zurich_city_15_a")


@pytest.fixture(scope="module")
def dsec_root(tmp_path_factory):
    """A test split of two DSEC-Semantic sequences with frames, one in each layout."""
    root = tmp_path_factory.mktemp("dsec")
    write_dsec_sequence(root, "ess", split="test", name=SEQUENCES[0], seed=1, frames=True)
    write_dsec_sequence(root, "official", split="test", name=SEQUENCES[1], seed=2, frames=True)
    return root


@pytest.fixture(scope="module")
def dsec_model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("model"), "segsnn", width=640, height=440,
                           classes="dsec11")


def _pipeline_confusion(model_path, folder, gating) -> np.ndarray:
    """FramePipeline + HybridSegmenter over every labelled frame of ``folder``, its events
    read whole into memory, scored in DSEC's 11 classes where the frame camera sees."""
    model, card = load_model(model_path)
    encoder = InputEncoder.from_card(card)
    confusion = np.zeros((11, 11), np.int64)
    with DsecSequence(folder, frames=True) as seq:
        events = RecordedEvents(seq.read_events(T_OFFSET_US, T_OFFSET_US + 10**6))
        pipeline = FramePipeline(HybridSegmenter(model, encoder, gating),
                                 SensorRescaler(WorkingResolution("sensor"), (640, 440)), events)
        for i in seq.paired():
            stamp = seq.frame_stamp_us(i) * 1000
            pipeline.admit(stamp)
            result = pipeline.segment(stamp, seq.frame(i))
            assert result is not None
            label = seq.label(i, mapped=False, seen_only=True)
            confusion += confusion_matrix(result.mask, label, 11, ignore=IGNORE_LABEL)
    return confusion


def test_sweep_on_dsec_equals_the_pipeline_over_the_same_frames(dsec_root, dsec_model,
                                                                 tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["eval", "sweep", "--dataset", "dsec", "--data-root", str(dsec_root), "--split",
                 "test", "--model", str(dsec_model), "--thetas", "1", "--residual-thetas",
                 "0.7", "--keyframe-intervals", "--out", str(out), "--no-progress", "--json",
                 str(tmp_path / "sweep.json")]) == 0
    printed = capsys.readouterr().out
    assert "labelled frames of DSEC-Semantic test" in printed and "traffic sign" in printed
    assert "ceiling on DSEC: a range [ceiling_miou, ceiling_miou_high]" in printed
    figures = json.loads((tmp_path / "sweep.json").read_text())
    assert figures["class_names"] == list(DSEC11_CLASS_NAMES)
    assert [s["name"] for s in figures["sequences"]["sequences"]] == list(SEQUENCES)
    assert figures["sequences"]["frames"] == 10  # 5 labels with a frame in each sequence
    rows = {r["theta"]: r for r in figures["rows"]}
    assert list(rows) == ["full", "0 (split)", "0 (split, merged box)", "1", "warped 0.7",
                          "full (again)"]
    for row in rows.values():
        confusion = np.array(row["confusion"])
        assert confusion.shape == (11, 11) and len(row["per_class_iou"]) == 11
        assert math.isfinite(row["miou"]) and row["miou"] == pytest.approx(mean_iou(confusion))
        low, high = row["ceiling_miou"], row["ceiling_miou_high"]
        assert math.isfinite(low) and math.isfinite(high) and 0.0 <= low <= high <= 1.0
    # A full pass pastes the ground truth whole: nothing is reused, nothing unknown.
    assert rows["full"]["ceiling_miou"] == rows["full"]["ceiling_miou_high"] == 1.0
    # Warped reuse carries the unlabelled strip along the motion: some labels it reuses are
    # unknown where the labels are now.
    assert rows["warped 0.7"]["ceiling_miou"] < rows["warped 0.7"]["ceiling_miou_high"]
    # The full pass and the published rule at theta 1 score what the nodes' pipeline gives on
    # the same frames with each sequence's events held whole.
    rule = dataclasses.replace(PUBLISHED_RULE, accumulate=True,
                               keyframe_max_age_s=NODE.keyframe_max_age_s,
                               max_changed_fraction=NODE.max_changed_fraction)
    for name, gating in (("full", dataclasses.replace(rule, keyframe_interval=1)),
                         ("1", dataclasses.replace(rule, theta=1.0))):
        expected = sum(_pipeline_confusion(dsec_model, dsec_root / "test" / seq, gating)
                       for seq in SEQUENCES)
        np.testing.assert_array_equal(np.array(rows[name]["confusion"]), expected)
        assert rows[name]["miou"] == pytest.approx(mean_iou(expected))
    # Every scored pixel is one the frame camera sees (the right strip is not) and labelled.
    with DsecSequence(dsec_root / "test" / SEQUENCES[0], frames=True) as seq:
        assert seq.frames is not None
        seen = (seq.label(0, mapped=False, seen_only=True) != IGNORE_LABEL).sum()
        assert 0 < seen < 640 * 440
    assert (out / "sweep.png").stat().st_size > 1000
    assert (out / "sweep_confusion.png").stat().st_size > 1000
    assert "| full |" in (out / "sweep.md").read_text()


def test_sweep_span_by_duration_and_start(dsec_root, dsec_model, tmp_path):
    """``--duration`` and ``--start`` cut each sequence's labelled frames (20 Hz) by time."""
    args = ["eval", "sweep", "--dataset", "dsec", "--data-root", str(dsec_root), "--model",
            str(dsec_model), "--thetas", "--residual-thetas", "--keyframe-intervals",
            "--no-paired", "--no-progress", "--out", str(tmp_path)]
    spans = {}
    for name, span in (("short", ["--duration", "0.08"]), ("late", ["--start", "0.12",
                                                                    "--duration", "0"])):
        assert main([*args, *span, "--json", str(tmp_path / f"{name}.json")]) == 0
        spans[name] = json.loads((tmp_path / f"{name}.json").read_text())["sequences"]
    # Frames at 50 ms steps from the first label: 0.08 s takes two, from 0.12 s the last two.
    assert [s["frames"] for s in spans["short"]["sequences"]] == [2, 2]
    assert [s["frames"] for s in spans["late"]["sequences"]] == [2, 2]
    assert spans["late"]["sequences"][0]["start_s"] == pytest.approx(0.12)


def test_dsec_events_are_read_per_window_as_the_whole_recording_gives_them(dsec_root):
    folder = dsec_root / "test" / SEQUENCES[0]
    with DsecSequence(folder) as seq:
        whole = RecordedEvents(seq.read_events(T_OFFSET_US - 1, T_OFFSET_US + 10**6))
        source = DsecEvents(seq)
        assert source.sensor_size == whole.sensor_size == (640, 440)
        assert source.newest_ns is not None and source.newest_ns >= whole.newest_ns
        # Bounds in ns that fall between the events' whole µs, and ones on them.
        for t0, t1 in ((T_OFFSET_US * 1000 + 49_999_999, T_OFFSET_US * 1000 + 100_000_001),
                       (T_OFFSET_US * 1000 + 120_000_000, T_OFFSET_US * 1000 + 170_000_000),
                       (0, T_OFFSET_US * 1000 + 1)):
            a, b = source.query(t0, t1), whole.query(t0, t1)
            assert len(a) > 0 or t1 < T_OFFSET_US * 1000 + 1000
            for key in ("t", "x", "y", "polarity"):
                np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        # The evaluation reads a window ahead, outside the time it measures, and is answered
        # from it once; other windows are read when asked.
        served = SourceEvents(DsecEvents(seq))
        t0, t1 = T_OFFSET_US * 1000 + 50_000_000, T_OFFSET_US * 1000 + 100_000_000
        served.prefetch(t0, t1)
        first = served.query(t0, t1)
        assert served.query(t0, t1) is not first
        np.testing.assert_array_equal(first.t, whole.query(t0, t1).t)
    evaluation = DsecEvalSequence(folder, mapped=True, window_us=50_000)
    try:
        assert len(evaluation) == 5 and evaluation.events is None
        assert evaluation.stamps_ns.tolist() == [t * 1000 for t in DSEC_FRAME_STAMPS_US[:5]]
        assert evaluation.frames[4].shape == (440, 640, 3)
        assert set(np.unique(evaluation.labels[0])) <= {*range(6), IGNORE_LABEL}  # mapped
        with pytest.raises(IndexError):
            evaluation.frames[5]
    finally:
        evaluation.close()


def test_refusals_name_the_reason(dsec_root, dsec_model, tmp_path, capsys):
    base = ["--data-root", str(dsec_root), "--model", str(dsec_model), "--no-progress",
            "--out", str(tmp_path)]
    assert main(["eval", "ceiling", "--dataset", "dsec", *base]) == 2
    assert "needs fully labelled frames" in capsys.readouterr().err
    assert main(["eval", "sweep", "--dataset", "ddd17", *base]) == 2
    assert "only DSEC-Semantic" in capsys.readouterr().err
    events_only = tiny_model_file(tmp_path, "evsegsnn", width=640, height=440, classes="dsec11")
    assert main(["eval", "sweep", "--dataset", "dsec", *base, "--model", str(events_only)]) == 2
    assert "takes no frames" in capsys.readouterr().err
    assert main(["eval", "sweep", "--dataset", "dsec", "--model", str(dsec_model)]) == 2
    assert "needs --data-root" in capsys.readouterr().err
    assert main(["eval", "sweep", "--start", "2", "--model", str(dsec_model)]) == 2
    assert "--start cuts a real data set's sequences" in capsys.readouterr().err
