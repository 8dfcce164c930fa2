"""``ness train`` and ``ness eval model`` on the real data sets, on tiny files in their released
layouts: DSEC-Semantic (events, its 11 classes or mapped to DDD17's six; and its frames, brought
into the label frame, for SegSNN) and DDD17 as released with Ev-SegNet (events, and grey frames
for SegSNN)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.real_datasets import (
    DSEC_STAMPS_US,
    write_ddd17_release,
    write_dsec_sequence,
)
from helpers.tiny_models import tiny_model_file
from ness_ros.cli.main import main
from ness_ros.data.dsec import DSEC_CLASS_NAMES, DsecSequence, dsec_to_ddd17
from ness_ros.labels import (
    CLASS_NAMES,
    DSEC11_CLASS_NAMES,
    DSEC11_PALETTE,
    PALETTE,
    class_set,
    colourize,
)
from ness_ros.metrics import mean_iou
from ness_ros.models.weights import load_model
from ness_ros.training.real_data import DsecWindows, dataset_class_set
from ness_ros.training.trainer import TrainConfig, train

#: Flags of a run of a few seconds: tiny network, two time steps, small crops.
TINY = ["--epochs", "1", "--base-width", "4", "--num-steps", "2", "--crop", "64", "96",
        "--batch-size", "2", "--no-progress"]


@pytest.fixture(scope="module")
def dsec_root(tmp_path_factory):
    """DSEC-Semantic with a train sequence in the official layout, a test one in ESS's, both
    with their frames and calibration (the event-only model reads none of them)."""
    root = tmp_path_factory.mktemp("dsec")
    write_dsec_sequence(root, "official", split="train", frames=True)
    write_dsec_sequence(root, "ess", split="test", name="zurich_city_14_c", seed=1, frames=True)
    return root


def _labelled_pixels(labels) -> int:
    return int(sum(np.count_nonzero(lb != 255) for lb in labels))


def _train_export_eval(tmp_path, dataset, root, flags):
    stem = tmp_path / "model"
    assert main(["train", "--dataset", dataset, "--data-root", str(root), *flags, *TINY,
                 "--out-dir", str(tmp_path / "run"), "--export", str(stem), "--json",
                 str(tmp_path / "train.json")]) == 0
    assert main(["eval", "model", "--dataset", dataset, "--data-root", str(root), "--split",
                 "test", "--model", str(stem), "--no-progress", "--out", str(tmp_path / "eval"),
                 "--json", str(tmp_path / "eval.json")]) == 0
    model, card = load_model(stem)
    report = json.loads((tmp_path / "eval.json").read_text())["report"]
    return model, card, report


def test_dsec_evsegsnn_trains_exports_and_evaluates_in_its_11_classes(tmp_path, dsec_root,
                                                                      capsys):
    model, card, report = _train_export_eval(tmp_path, "dsec", dsec_root,
                                             ["--model", "evsegsnn"])
    out = capsys.readouterr().out
    assert "train: zurich_city_00_a: DSEC-Semantic official layout" in out
    assert "zurich_city_14_c: DSEC-Semantic ess layout" in out
    assert card.class_names == list(DSEC11_CLASS_NAMES) == list(DSEC_CLASS_NAMES)
    assert card.palette == DSEC11_PALETTE.tolist()
    assert card.config["num_classes"] == 11 and model.head.out_channels == 11
    assert card.input_size == (640, 440) and card.data_seeds == []
    # Every label of the test sequence has a full 50 ms window: all are scored, in 11 classes.
    confusion = np.array(report["confusion"])
    assert confusion.shape == (11, 11) and report["frames"] == len(DSEC_STAMPS_US)
    with DsecSequence(dsec_root / "test" / "zurich_city_14_c") as seq:
        labels = [seq.label(i, mapped=False) for i in range(len(seq))]
    assert confusion.sum() == _labelled_pixels(labels)
    assert np.isfinite(report["miou"]) and report["miou"] == pytest.approx(mean_iou(confusion))
    assert report["class_names"] == list(DSEC11_CLASS_NAMES)
    assert "traffic sign" in out and (tmp_path / "eval" / "confusion_evsegsnn_dsec.png").is_file()
    history = json.loads((tmp_path / "train.json").read_text())["history"]
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])


def test_dsec_segsnn_trains_on_frames_and_events_exports_and_evaluates(tmp_path, dsec_root,
                                                                       capsys):
    """The hybrid model on DSEC: frames brought into the label frame, one sample per label at
    its frame's time, label pixels the frame camera does not see neither trained nor scored."""
    model, card, report = _train_export_eval(tmp_path, "dsec", dsec_root, ["--model", "segsnn"])
    out = capsys.readouterr().out
    assert "frames: 6 in images/left/rectified, 5 of 5 labels with the frame nearest" in out
    assert "homography at infinity" in out and "frame camera sees" in out
    assert card.architecture == "segsnn" and card.config["frame_channels"] == 3
    assert card.frame_mean is not None and len(card.frame_mean) == 3
    assert card.class_names == list(DSEC11_CLASS_NAMES) and card.input_size == (640, 440)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (11, 11) and report["frames"] == len(DSEC_STAMPS_US)
    with DsecSequence(dsec_root / "test" / "zurich_city_14_c") as seq:
        seen = [seq.label(i, mapped=False, seen_only=True) for i in range(len(seq))]
        labels = [seq.label(i, mapped=False) for i in range(len(seq))]
    assert confusion.sum() == _labelled_pixels(seen) < _labelled_pixels(labels)
    assert np.isfinite(report["miou"]) and report["miou"] == pytest.approx(mean_iou(confusion))
    # The samples are the windows the sequence gives: frame, events at the frame's time, label.
    config = TrainConfig(model="segsnn", dataset="dsec", base_width=4, num_steps=2)
    samples = DsecWindows(dsec_root, "test", config.encoder(), classes=config.class_set())
    encoder = config.encoder()
    with DsecSequence(dsec_root / "test" / "zurich_city_14_c") as seq:
        window = list(seq.windows(mapped=False))[3]
    frame, events, label = samples[3]
    assert window.frame is not None
    np.testing.assert_array_equal(frame.numpy(), encoder.frame_tensor(window.frame))
    np.testing.assert_array_equal(events.numpy(),
                                  encoder.event_tensor(window.events, window.stamp_ns))
    np.testing.assert_array_equal(label.numpy(), window.label)


def test_dsec_mapped_to_ddd17_gives_six_classes(tmp_path, dsec_root):
    config = TrainConfig(model="evsegsnn", dataset="dsec", data_root=str(dsec_root),
                         classes="ddd17", base_width=4, num_steps=2)
    assert config.class_set().names == CLASS_NAMES
    assert config.build_model().head.out_channels == 6
    samples = DsecWindows(dsec_root, "test", config.encoder(), classes=config.class_set())
    with DsecSequence(dsec_root / "test" / "zurich_city_14_c") as seq:
        raw = seq.label(2, mapped=False)
    frame, events, label = samples[2]
    assert frame.shape[0] == 0 and events.shape == (2, 2, 440, 640)
    np.testing.assert_array_equal(label.numpy(), dsec_to_ddd17(raw))
    assert int(label.max()) < 6 or int(label.max()) == 255
    # Through the trainer: six classes in the card and in validation.
    config.epochs, config.crop, config.batch_size = 1, (64, 96), 2
    config.out_dir = str(tmp_path / "run")
    model, card, history = train(config, progress=False, log=lambda _: None)
    assert card.class_names == list(CLASS_NAMES) and card.palette == PALETTE.tolist()
    assert card.config["num_classes"] == 6 and len(history) == 1


def test_class_sets_and_refusals(tmp_path, dsec_root, capsys):
    assert dataset_class_set("dsec").name == "dsec11"
    assert dataset_class_set("synthetic").name == dataset_class_set("ddd17").name == "ddd17"
    with pytest.raises(ValueError, match="ddd17 labels cannot be given as the dsec11"):
        dataset_class_set("ddd17", "dsec11")
    with pytest.raises(ValueError, match="unknown class set 'cityscapes'"):
        dataset_class_set("dsec", "cityscapes")
    # A default synthetic config is the six-class one it always was.
    assert TrainConfig().class_set().names == CLASS_NAMES
    # SegSNN on DSEC without the frames: a clear error naming the missing folders.
    bare = tmp_path / "bare"
    folder, _ = write_dsec_sequence(bare, "official", split="train")
    assert main(["train", "--dataset", "dsec", "--data-root", str(bare), "--model",
                 "segsnn", *TINY, "--out-dir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert f"missing {folder / 'images'} and {folder / 'calibration'}" in err
    assert "<split>_images.zip and <split>_calibration.zip" in err and "Traceback" not in err
    hybrid = tiny_model_file(tmp_path, "segsnn", width=640, height=440, classes="dsec11")
    assert main(["eval", "model", "--dataset", "dsec", "--data-root", str(bare), "--split",
                 "train", "--model", str(hybrid), "--no-progress", "--out",
                 str(tmp_path / "eval")]) == 1
    assert f"missing {folder / 'images'} and {folder / 'calibration'}" in capsys.readouterr().err
    assert main(["train", "--dataset", "dsec", *TINY, "--model", "evsegsnn"]) == 2
    assert "--data-root is needed for --dataset dsec" in capsys.readouterr().err
    # The colour mask of a DSEC model uses DSEC's palette.
    mask = np.array([[0, 5, 10, 255]], np.uint8)
    assert colourize(mask, class_set("dsec11").palette).tolist() == [
        [[0, 0, 0], [128, 64, 128], [220, 220, 0], [0, 0, 0]]]
    assert colourize(mask[:, :2]).tolist() == [[PALETTE[0].tolist(), PALETTE[5].tolist()]]


def test_ddd17_segsnn_on_grey_frames_and_events(tmp_path):
    root = tmp_path / "ddd17"
    write_ddd17_release(root, "train")
    write_ddd17_release(root, "test", seed=1)
    model, card, report = _train_export_eval(
        tmp_path, "ddd17", root, ["--model", "segsnn", "--frame-channels", "1"])
    assert card.architecture == "segsnn" and card.config["frame_channels"] == 1
    assert card.frame_mean is not None and len(card.frame_mean) == 1
    assert card.class_names == list(CLASS_NAMES) and card.input_size == (346, 200)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (6, 6) and report["frames"] == 3
    assert confusion.sum() == 3 * 346 * 200  # the written labels have no ignored pixel
    assert np.isfinite(report["miou"]) and report["miou"] == pytest.approx(mean_iou(confusion))


def test_ddd17_without_a_test_split_holds_out_the_last_samples(tmp_path):
    root = tmp_path / "ddd17"
    names = [f"rec1487417411_export_{k}" for k in range(10)]
    write_ddd17_release(root, "train", names=names, images=False)
    config = TrainConfig(model="evsegsnn", dataset="ddd17", data_root=str(root), epochs=1,
                         base_width=4, num_steps=2, crop=(64, 96), batch_size=3,
                         out_dir=str(tmp_path / "run"))
    logs: list[str] = []
    _, card, history = train(config, progress=False, log=logs.append)
    assert any("9 training samples, 1 validation samples from the last 1 training samples "
               "(no test split)" in line for line in logs), logs
    assert len(history) == 1 and card.input_size == (346, 200)
    # SegSNN needs the release's frames.
    with pytest.raises(ValueError, match="no images folder, but the model takes frames"):
        train(TrainConfig(model="segsnn", dataset="ddd17", data_root=str(root), epochs=1,
                          out_dir=str(tmp_path / "run2")), progress=False, log=lambda _: None)


def test_online_evaluator_scores_a_dsec_models_eleven_classes():
    from ness_ros.segmentation.online_eval import OnlineEvaluator

    evaluator = OnlineEvaluator(num_classes=11)
    label = np.array([[0, 5, 10, 255]], np.uint8)
    evaluator.add_label(7, label)
    evaluator.add_mask(7, np.array([[0, 5, 9, 3]], np.uint8), now_s=0.0)
    summary = evaluator.summary()
    assert np.array(summary.confusion).shape == (11, 11) and summary.frames_evaluated == 1
    # 0 and 5 right, 10 missed (IoU 0), 9 predicted where it is not (IoU 0): a mean of 0.5
    assert summary.confusion[10][9] == 1 and summary.miou == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["evsegsnn_ddd17", "evsegsnn_dsec", "segsnn_ddd17",
                                  "segsnn_dsec"])
def test_the_papers_settings_files_are_valid_configs(name):
    import argparse

    from conftest import REPO_ROOT
    from ness_ros.cli.main import build_parser
    from ness_ros.cli.train_verb import config_from_args

    args = build_parser().parse_args(["train", "--config",
                                      str(REPO_ROOT / "config" / "training" / f"{name}.yaml")])
    assert isinstance(args, argparse.Namespace)
    config = config_from_args(args)
    assert config.dataset == name.split("_")[1] and config.model == name.split("_")[0]
    assert config.class_set().num_classes == (11 if config.dataset == "dsec" else 6)
    assert config.build_model().head.out_channels == config.class_set().num_classes
