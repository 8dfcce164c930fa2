"""``ness eval model --dataset dsec|ddd17``: a model on a real data set's split, reported as
the synthetic evaluation is (MIoU, per-class IoU with the card's class names, a confusion PNG,
``--json``)."""

from __future__ import annotations

import argparse
import dataclasses

from ness_ros.cli.errors import USAGE, CliError
from ness_ros.report_tables import format_table, write_json


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
