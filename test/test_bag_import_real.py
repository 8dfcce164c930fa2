"""``ness bag import dsec|ddd17``: tiny sequences in the released layouts become bags that
``ness bag eval`` reads on its default topics: every event decoded, every label scored; DSEC's
frames, when the sequence has them, brought into the label frame for the hybrid node."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from helpers.real_datasets import (
    DSEC_FRAME_STAMPS_US,
    DSEC_STAMPS_US,
    write_ddd17_release,
    write_dsec_sequence,
)
from helpers.tiny_models import tiny_model_file
from ness_ros.bag import bag_info, read_messages
from ness_ros.bag.import_real import ddd17_events
from ness_ros.cli.main import main
from ness_ros.data.ddd17 import Ddd17Split, counts_tensor, to_counts
from ness_ros.data.dsec import DSEC_CLASS_NAMES, DsecSequence
from ness_ros.data.sequence import SequenceConfig, SyntheticSequence
from ness_ros.events.image_codec import decode_image_cdr
from ness_ros.models.weights import load_model
from ness_ros.segmentation.evaluation import evaluate_hybrid
from ness_ros.segmentation.hybrid import GatingConfig
from ness_ros.segmentation.inputs import InputEncoder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"events": tiny_model_file(folder, "evsegsnn"),
            "hybrid": tiny_model_file(folder, "segsnn")}


def _eval(bag, model, mode, out):
    report = out / "report.json"
    assert main(["bag", "eval", str(bag), "--mode", mode, "--model", str(model), "--out",
                 str(out), "--no-progress", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    return {**data["figures"], "confusion": data["confusion"]}


def _custom(bag) -> dict:
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return meta["custom_data"]


@pytest.mark.parametrize("layout", ["official", "ess"])
def test_dsec_import_then_eval(layout, models, tmp_path, capsys):
    folder, _ = write_dsec_sequence(tmp_path / "data", layout)
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--classes", "ddd17",
                 "--no-progress", "--json", str(tmp_path / "import.json")]) == 0
    printed = capsys.readouterr().out
    assert f"DSEC-Semantic {layout} layout" in printed and "frames left out" in printed
    summary = json.loads((tmp_path / "import.json").read_text())
    with DsecSequence(folder) as seq:
        expected = seq.read_events(DSEC_STAMPS_US[0] - 50_000, DSEC_STAMPS_US[-1])
        labels = [seq.label(i) for i in range(len(seq))]
    assert summary["events"] == len(expected) > 0 and summary["labels"] == 5
    assert summary["layout"] == layout and summary["classes"] == "ddd17"
    info = bag_info(bag)
    assert info.topics == {"/camera/events": ("event_camera_msgs/msg/EventPacket",
                                              summary["messages"]["/camera/events"]),
                           "/camera/labels": ("sensor_msgs/msg/Image", 5)}
    assert _custom(bag)["ness_ros.classes"] == "ddd17"
    assert f"{layout} layout" in _custom(bag)["ness_ros.source"]
    stamps = []
    for _, time_ns, data in read_messages(bag, ["/camera/labels"]):
        pixels, encoding, header = decode_image_cdr(data)
        assert encoding == "mono8" and header.stamp_ns == time_ns
        np.testing.assert_array_equal(pixels, labels[len(stamps)])
        stamps.append(header.stamp_ns)
    assert stamps == [s * 1000 for s in DSEC_STAMPS_US]  # the sensor's clock, t + t_offset
    figures = _eval(bag, models["events"], "events", tmp_path / "eval")
    assert figures["events"] == len(expected)  # every event decoded
    assert figures["rejected_messages"] == 0
    assert figures["frames_evaluated"] == 5  # a mask at every label, matched by stamp
    assert np.array(figures["confusion"]).sum() == sum(int((lab != 255).sum()) for lab in labels)


def test_dsec_keeps_its_11_classes_and_dvs_messages(tmp_path, capsys):
    folder, _ = write_dsec_sequence(tmp_path / "data", "official", frames=True)
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--event-message",
                 "dvs", "--start", "0.05", "--duration", "0.1", "--no-frames",
                 "--no-progress"]) == 0
    assert "frames left out, as asked" in capsys.readouterr().out
    custom = _custom(bag)
    assert custom["ness_ros.classes"] == "dsec11"
    assert custom["ness_ros.class_names"].split(",") == list(DSEC_CLASS_NAMES)
    info = bag_info(bag)
    assert info.topics["/camera/events"][0] == "dvs_msgs/msg/EventArray"
    assert "/camera/image" not in info.topics
    with DsecSequence(folder) as seq:
        raw = [seq.label(i, mapped=False) for i in (1, 2)]
    got = [decode_image_cdr(d) for _, _, d in read_messages(bag, ["/camera/labels"])]
    assert [h.stamp_ns for _, _, h in got] == [s * 1000 for s in DSEC_STAMPS_US[1:3]]
    for (pixels, _, _), truth in zip(got, raw, strict=True):
        np.testing.assert_array_equal(pixels, truth)
    assert max(int(p.max(initial=0, where=p != 255)) for p, _, _ in got) > 5  # DSEC's own ids


def dsec_windows_in_memory(folder, window_us: int = 50_000) -> SyntheticSequence:
    """The windows of a DSEC sequence with frames (labels mapped to the six classes), as the
    in-memory sequence :func:`evaluate_hybrid` runs: frames, labels and stamps of the windows,
    the events from the first window's start to the last frame."""
    with DsecSequence(folder) as seq:
        windows = list(seq.windows(window_us))
        first, last = windows[0].stamp_ns // 1000, windows[-1].stamp_ns // 1000
        events = seq.read_events(max(first - window_us, seq.t_offset_us), last)
    n = len(windows)
    assert all(w.frame is not None for w in windows)
    return SyntheticSequence(
        np.stack([w.frame for w in windows]), np.stack([w.label for w in windows]),
        np.array([w.stamp_ns for w in windows], np.int64), events, np.zeros(n, np.float32),
        np.zeros(n, bool), 0, SequenceConfig(width=640, height=440, duration_s=n * 0.05),
        np.zeros(n, np.int16))


def test_dsec_frames_import_then_hybrid_eval_equals_evaluating_the_windows(tmp_path, capsys):
    """With images/ and calibration/, the bag carries each label's frame in the label frame
    (rgb8, 640 x 440, the frame's own time, the label stamped alike, its unseen pixels 255), and
    ``ness bag eval --mode hybrid`` scores it as the hybrid segmenter run over the sequence's
    windows directly does: the same confusion matrix."""
    folder, _ = write_dsec_sequence(tmp_path / "data", "ess", frames=True)
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--classes", "ddd17",
                 "--no-progress", "--json", str(tmp_path / "import.json")]) == 0
    printed = capsys.readouterr().out
    assert "frames: 6 in images/left/rectified, 5 of 5 labels" in printed
    assert "written as rgb8 640 x 440 frames at their own times" in printed
    summary = json.loads((tmp_path / "import.json").read_text())
    assert summary["frames"] == summary["labels"] == 5
    info = bag_info(bag)
    assert info.topics["/camera/image"] == ("sensor_msgs/msg/Image", 5)
    direct = dsec_windows_in_memory(folder)
    frame_stamps = [t * 1000 for t in DSEC_FRAME_STAMPS_US[:5]]
    assert direct.stamps_ns.tolist() == frame_stamps
    for topic, truth, encoding in (("/camera/image", direct.frames, "rgb8"),
                                   ("/camera/labels", direct.labels, "mono8")):
        got = [decode_image_cdr(d) for _, _, d in read_messages(bag, [topic])]
        assert [h.stamp_ns for _, _, h in got] == frame_stamps  # the frames' own times
        for (pixels, enc, _), expected in zip(got, truth, strict=True):
            assert enc == encoding and pixels.shape[:2] == (440, 640)
            np.testing.assert_array_equal(pixels, expected)
    assert (direct.labels[:, :, -10:] == 255).all()  # unseen by the frame camera: ignored
    model_file = tiny_model_file(tmp_path, "segsnn", width=640, height=440)
    figures = _eval(bag, model_file, "hybrid", tmp_path / "eval")
    assert figures["frames_evaluated"] == 5 and figures["rejected_messages"] == 0
    assert figures["events"] == len(direct.events)
    model, card = load_model(model_file)
    expected = evaluate_hybrid(model, InputEncoder.from_card(card), [direct], GatingConfig())
    np.testing.assert_array_equal(np.array(figures["confusion"]), np.array(expected.confusion))
    assert figures["miou"] == pytest.approx(expected.miou)


def test_dsec_frames_bag_replayed_through_the_hybrid_node(tmp_path):
    """``ness bag replay --mode hybrid`` runs the hybrid node on an imported DSEC bag: every
    frame segmented and scored, as offline (a full pass each frame)."""
    folder, _ = write_dsec_sequence(tmp_path / "data", "official", frames=True)
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--classes", "ddd17",
                 "--no-progress"]) == 0
    model = tiny_model_file(tmp_path, "segsnn", width=640, height=440)
    report = tmp_path / "replay.json"
    assert main(["bag", "replay", str(bag), "--mode", "hybrid", "--model", str(model),
                 "--keyframe-interval", "1", "--rate", "0.25", "--out",
                 str(tmp_path / "replay"), "--no-progress", "--json", str(report)]) == 0
    live = json.loads(report.read_text())["figures"]
    assert live["inputs_published"] == 5 and live["frames_evaluated"] == 5, live
    offline = _eval_full(bag, model, tmp_path / "eval")
    assert live["miou"] == pytest.approx(offline["miou"], abs=1e-6)


def _eval_full(bag, model, out) -> dict:
    report = out / "report.json"
    assert main(["bag", "eval", str(bag), "--mode", "hybrid", "--model", str(model),
                 "--keyframe-interval", "1", "--out", str(out), "--no-progress", "--json",
                 str(report)]) == 0
    return json.loads(report.read_text())["figures"]


def error_line(capsys, why: str) -> bool:
    """``ness bag import`` ended with one error line on stderr, naming itself and ``why``."""
    last = capsys.readouterr().err.strip().splitlines()[-1]
    return last.startswith("ness bag import: ") and why in last


def test_dsec_import_errors(tmp_path, capsys):
    folder, _ = write_dsec_sequence(tmp_path / "data", "official")
    (folder / f"{folder.name}_semantic_timestamps.txt").unlink()
    assert main(["bag", "import", "dsec", str(folder), "--out", str(tmp_path / "bag"),
                 "--no-progress"]) == 1
    assert error_line(capsys, "missing label timestamps")
    assert main(["bag", "import", "dsec", str(tmp_path), "--out", str(tmp_path / "b2")]) == 1
    assert error_line(capsys, "missing DSEC event file")
    assert main(["bag", "import", "dsec", str(folder)]) == 2
    assert error_line(capsys, "--out BAG")


def test_ddd17_events_reproduce_the_release_counts():
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, (2, 5, 7)).astype(np.float32)
    counts[0, 0, 0] = 40
    stamp = 3_000_000_000
    events = ddd17_events(counts, stamp, 50_000_000)
    assert events.is_time_sorted() and len(events) == counts.sum()
    assert events.t.min() >= stamp - 50_000_000 and events.t.max() < stamp
    assert np.all(events.t % 1000 == 0)  # whole µs, as evt3 carries them
    for steps in (1, 2, 3, 4, 5, 8):
        encoder = InputEncoder(num_steps=steps, event_window_ns=50_000_000)
        np.testing.assert_array_equal(encoder.event_tensor(events, stamp),
                                      counts_tensor(counts, steps))


def test_ddd17_import_then_hybrid_eval(models, tmp_path, capsys):
    split = write_ddd17_release(tmp_path / "ddd17")
    bag = tmp_path / "bag"
    assert main(["bag", "import", "ddd17", str(tmp_path / "ddd17"), "--split", "test", "--out",
                 str(bag), "--no-progress", "--json", str(tmp_path / "import.json")]) == 0
    assert "events reconstructed from the release's per-window counts" in capsys.readouterr().out
    summary = json.loads((tmp_path / "import.json").read_text())
    data = Ddd17Split(split.parent, split.name)
    total = sum(int(np.rint(to_counts(data.representation(i))).sum()) for i in range(len(data)))
    assert summary["events"] == total and summary["frames"] == summary["labels"] == 3
    info = bag_info(bag)
    assert set(info.topics) == {"/camera/image", "/camera/events", "/camera/labels"}
    # natural order: export_2, export_10, export_11, 50 ms apart
    frames = [decode_image_cdr(d) for _, _, d in read_messages(bag, ["/camera/image"])]
    assert [h.stamp_ns for _, _, h in frames] == [50_000_000, 100_000_000, 150_000_000]
    order = [data.names.index(n) for n in ("rec1487417411_export_2", "rec1487417411_export_10",
                                           "rec1487417411_export_11")]
    for (pixels, encoding, _), i in zip(frames, order, strict=True):
        assert encoding == "mono8"
        np.testing.assert_array_equal(pixels, data.image(i))
    figures = _eval(bag, models["hybrid"], "hybrid", tmp_path / "eval")
    assert figures["events"] == total and figures["frames_evaluated"] == 3
    assert np.array(figures["confusion"]).sum() == 3 * 200 * 346
    events_mode = _eval(bag, models["events"], "events", tmp_path / "eval_events")
    assert events_mode["events"] == total and events_mode["frames_evaluated"] == 3


def test_ddd17_without_images_and_the_old_aedat4_form_still_parse(tmp_path, capsys):
    split = write_ddd17_release(tmp_path / "ddd17", images=False)
    bag = tmp_path / "bag"
    assert main(["bag", "import", "ddd17", str(split), "--out", str(bag), "--event-message",
                 "dvs", "--no-progress"]) == 0
    assert "frames: none" in capsys.readouterr().out
    assert set(bag_info(bag).topics) == {"/camera/events", "/camera/labels"}
    assert main(["bag", "import", "ddd17", str(tmp_path / "ddd17"), "--out",
                 str(tmp_path / "b2")]) == 1
    assert error_line(capsys, "not a DDD17 split folder")
    assert main(["bag", "import", str(tmp_path / "missing.aedat4"), str(tmp_path / "b3")]) == 1


def test_dsec_bag_replayed_through_the_event_node_scores_every_label(models, tmp_path, capsys):
    """A DSEC bag has labels but no event-camera frames: the live replay triggers the
    event-only node on the labels' stamps, as ``ness bag eval`` segments at them, so every
    label is scored over DDS too."""
    folder, _ = write_dsec_sequence(tmp_path / "data", "official")
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--classes", "ddd17",
                 "--no-progress"]) == 0
    offline = _eval(bag, models["events"], "events", tmp_path / "eval")
    report = tmp_path / "replay.json"
    assert main(["bag", "replay", str(bag), "--mode", "events", "--model",
                 str(models["events"]), "--rate", "0.5", "--out", str(tmp_path / "replay"),
                 "--no-progress", "--json", str(report)]) == 0
    figures = json.loads(report.read_text())["figures"]
    assert figures["inputs_published"] == 5 and figures["masks_received"] == 5
    assert figures["frames_evaluated"] == offline["frames_evaluated"] == 5
    assert figures["node_events_received"] == offline["events"]
    assert figures["miou"] == pytest.approx(offline["miou"])  # live and offline agree


def test_a_dsec_model_is_scored_on_its_11_classes_offline_and_live(tmp_path, capsys):
    """The model card's class set travels: a model of DSEC's 11 classes on a DSEC bag keeping
    its own ids is scored in 11 classes by ``ness bag eval`` and, over DDS, by the replay (the
    node publishes the 11-class LabelInfo and its masks label those ids)."""
    folder, _ = write_dsec_sequence(tmp_path / "data", "official")
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--no-progress"]) == 0
    model = tiny_model_file(tmp_path, "evsegsnn", classes="dsec11")
    offline = _eval(bag, model, "events", tmp_path / "eval")
    assert np.array(offline["confusion"]).shape == (11, 11)
    assert offline["frames_evaluated"] == 5
    report = tmp_path / "replay.json"
    assert main(["bag", "replay", str(bag), "--mode", "events", "--model", str(model),
                 "--rate", "0.5", "--out", str(tmp_path / "replay"), "--no-progress",
                 "--json", str(report)]) == 0
    live = json.loads(report.read_text())
    assert list(live["per_class_iou"]) == list(DSEC_CLASS_NAMES)
    assert np.array(live["confusion"]).shape == (11, 11)
    assert live["figures"]["frames_evaluated"] == 5
    assert live["figures"]["miou"] == pytest.approx(offline["miou"])


def test_dsec_bag_eval_gives_the_confusion_of_ness_eval_model_on_the_same_windows(tmp_path):
    """Events only: ``ness bag import dsec`` then ``ness bag eval`` scores every label with the
    confusion matrix ``ness eval model --dataset dsec`` gives on the same split (a six-class
    model: DSEC mapped to DDD17's classes in both), the model running at the label frame's own
    size in both."""
    root = tmp_path / "data"
    folder, _ = write_dsec_sequence(root, "official", split="test")
    model = tiny_model_file(tmp_path, "evsegsnn", width=640, height=440)
    bag = tmp_path / "bag"
    assert main(["bag", "import", "dsec", str(folder), "--out", str(bag), "--classes", "ddd17",
                 "--no-progress"]) == 0
    offline = _eval(bag, model, "events", tmp_path / "eval")
    report = tmp_path / "model.json"
    assert main(["eval", "model", "--dataset", "dsec", "--data-root", str(root), "--split",
                 "test", "--model", str(model), "--no-progress",
                 "--out", str(tmp_path / "eval_model"), "--json", str(report)]) == 0
    direct = json.loads(report.read_text())["report"]
    assert direct["frames"] == offline["frames_evaluated"] == 5
    np.testing.assert_array_equal(np.array(offline["confusion"]), np.array(direct["confusion"]))
