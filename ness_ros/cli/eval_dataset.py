"""``ness eval model --dataset dsec|ddd17``: a model on a real data set's split, reported as
the synthetic evaluation is (MIoU, per-class IoU with the card's class names, a confusion PNG,
``--json``); and the sequences ``ness eval sweep --dataset dsec`` runs the hybrid segmenter
over."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from ness_ros.cli.errors import USAGE, CliError
from ness_ros.report_tables import format_table, write_json

if TYPE_CHECKING:
    from ness_ros.data.dsec_eval import DsecEvalSequence
    from ness_ros.models.weights import ModelCard
    from ness_ros.segmentation.inputs import InputEncoder


def run_dataset_model(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ness_ros.models.weights import default_weights_path, load_model
    from ness_ros.segmentation.plots import plot_confusion
    from ness_ros.training.dataset_eval import evaluate_dataset, size_note

    if args.data_root is None:
        raise CliError(f"--dataset {args.dataset} needs --data-root (the folder holding train/ "
                       "and test/)", USAGE)
    if args.threads:
        torch.set_num_threads(args.threads)
    # A data or model file it cannot read: ness's main prints the one line that says why.
    model, card = load_model(args.model or default_weights_path(args.arch))
    note = size_note(card, args.dataset)
    if note:
        print(note)
    report = evaluate_dataset(model, card, args.dataset, args.data_root, args.split,
                              progress=not args.no_progress)
    for line in report.sources:
        print(line)
    rows = [{"class": name, "IoU": iou}
            for name, iou in zip(report.class_names, report.per_class_iou, strict=True)]
    where = f"{args.dataset} {args.split}"
    print(format_table(rows, title=f"{card.architecture} on {where}: per-class IoU"))
    summary = {"MIoU": report.miou, "pixel accuracy": report.pixel_accuracy,
               "frames": report.frames, "frames/s (model only)": report.frames_per_s}
    print(format_table([{"figure": k, "value": v} for k, v in summary.items()]))
    png = plot_confusion(np.asarray(report.confusion),
                         args.out / f"confusion_{card.architecture}_{args.dataset}.png",
                         title=f"{card.architecture} on {where}, MIoU {100 * report.miou:.1f}%",
                         class_names=report.class_names)
    print(f"confusion matrix: {png}")
    write_json(args.json, {"report": dataclasses.asdict(report), "model": card.to_dict()})
    return 0


def dataset_sequences(args: argparse.Namespace, card: ModelCard, encoder: InputEncoder
                      ) -> list[DsecEvalSequence]:
    """The labelled frame streams of ``--dataset``'s ``--split`` for the hybrid segmenter
    (``ness eval sweep``): every DSEC-Semantic sequence of the split with its frames, each
    limited to ``--duration`` s from ``--start`` s after its first label (0: to its end), its
    labels in the card's classes. One line per sequence says what was taken."""
    from ness_ros.data.dsec import list_sequences
    from ness_ros.data.dsec_eval import DsecEvalSequence
    from ness_ros.training.dataset_eval import card_class_set, size_note

    if args.dataset != "dsec":
        raise CliError(f"--dataset {args.dataset}: the sweep runs the hybrid segmenter over "
                       "streams of labelled frames; of the real data sets only DSEC-Semantic "
                       "has them (DDD17 as released with Ev-SegNet holds single windows)", USAGE)
    if args.data_root is None:
        raise CliError(f"--dataset {args.dataset} needs --data-root (the folder holding train/ "
                       "and test/)", USAGE)
    if not encoder.frame_channels:
        raise CliError(f"the sweep runs the hybrid segmenter; the model is a "
                       f"{card.architecture}, which takes no frames", USAGE)
    classes = card_class_set(card, args.dataset)
    note = size_note(card, args.dataset)
    if note:
        print(note)
    folders = list_sequences(args.data_root, args.split)
    if not folders:
        raise CliError(f"no DSEC-Semantic sequence in {args.data_root / args.split} (expected "
                       "<sequence>/events/left/events.h5 folders)")
    window_us = encoder.event_window_ns // 1000
    sequences = []
    for folder in folders:
        seq = DsecEvalSequence(folder, mapped=classes.name == "ddd17", window_us=window_us,
                               start_s=args.start, duration_s=args.duration)
        print(seq.describe() if len(seq) else
              f"{seq.name}: no labelled frame with a full event window in the span: skipped")
        if len(seq):
            sequences.append(seq)
        else:
            seq.close()
    if not sequences:
        raise CliError(f"no labelled frame with a full event window in {args.duration:g} s from "
                       f"{args.start:g} s of any sequence of {args.data_root / args.split}")
    return sequences
