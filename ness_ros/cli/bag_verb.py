"""``ness bag``: camera data in rosbag2 files, and evaluating the segmenters on them.

``ness bag record OUT``   a synthetic sequence (rgb8 frames, events, mono8 labels) as a bag
``ness bag import dsec|ddd17|aedat4 PATH --out BAG``  a real recording as a bag: DSEC-Semantic
                          or DDD17 (events, frames: DDD17's own, DSEC's brought into the
                          event camera's label frame, labels), or
                          an AEDAT4 file (mono8 frames, events); ``ness bag import FILE OUT``
                          is the AEDAT4 form too
``ness bag info BAG``     topics, types, counts and span
``ness bag eval BAG``     offline evaluation: the bag read directly, the segmenters in stamp order
``ness bag replay BAG``   live evaluation: the bag published into ROS, the node in its own process

Evaluations write report.json, report.md and PNGs (confusion matrix, overlays, latency) to
``--out``; ``--json PATH`` writes the same JSON elsewhere too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ness_ros.cli.errors import USAGE, CliError, option_errors
from ness_ros.cli_options import add_upsampling_option, upsampling
from ness_ros.graph import DEFAULT_TOPICS
from ness_ros.report_tables import add_json_option, format_table, write_json
from ness_ros.segmentation.gating_config import GatingConfig

#: Gating options: CLI dest -> hybrid node parameter (defaults: the node's,
#: :class:`~ness_ros.segmentation.gating_config.GatingConfig`'s own).
GATING = {"reuse": "reuse", "theta": "theta", "residual_theta": "residual_theta",
          "keyframe_interval": "keyframe_interval", "keyframe_max_age": "keyframe_max_age_s",
          "margin": "margin", "max_changed_fraction": "max_changed_fraction"}


def _topics(parser: argparse.ArgumentParser) -> None:
    for key, default in DEFAULT_TOPICS.items():
        parser.add_argument(f"--{key}-topic", default=default, help=f"default {default}")


def _writing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--event-message", choices=("dvs", "packet"), default="dvs",
                        help="dvs_msgs/EventArray or event_camera_msgs/EventPacket")
    parser.add_argument("--packet-encoding", choices=("evt3", "libcaer", "mono"), default="evt3")
    parser.add_argument("--event-period", type=float, default=0.01,
                        help="span of one event message, s")
    parser.add_argument("--frame-id", default="camera")
    _topics(parser)
    parser.add_argument("--no-progress", action="store_true")
    add_json_option(parser)


def _evaluating(parser: argparse.ArgumentParser, out: str) -> None:
    parser.add_argument("bag", type=Path, help="rosbag2 folder")
    parser.add_argument("--mode", choices=("hybrid", "events"), default="hybrid")
    parser.add_argument("--model", default="", help="model file (default: packaged weights)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    g = GatingConfig()
    parser.add_argument("--reuse", choices=("warped", "static"), default=g.reuse,
                        help="kept labels follow the motion (warped) or stay in place (static, "
                             "the published rule); default %(default)s")
    parser.add_argument("--theta", type=float, default=g.theta,
                        help="static reuse's change threshold, events/px")
    parser.add_argument("--residual-theta", type=float, default=g.residual_theta,
                        help="warped reuse's change threshold, unexplained share of a region")
    parser.add_argument("--grid", type=int, nargs=2, default=[g.rows, g.cols],
                        metavar=("ROWS", "COLS"))
    parser.add_argument("--margin", type=int, default=g.margin, help="crop margin, pixels")
    parser.add_argument("--keyframe-interval", type=int, default=g.keyframe_interval,
                        help="0: never by count")
    parser.add_argument("--keyframe-max-age", type=float, default=g.keyframe_max_age_s,
                        help="s; 0: never")
    parser.add_argument("--max-changed-fraction", type=float, default=g.max_changed_fraction)
    add_upsampling_option(parser)
    parser.add_argument("--period", type=float, default=0.05,
                        help="events mode, bag without frames: a mask every this many s")
    parser.add_argument("--working-size", default="auto", help="resolution the model runs at, "
                        "as the nodes' working_size: auto, sensor or WIDTHxHEIGHT")
    parser.add_argument("--roi", type=int, nargs=4, default=None,
                        metavar=("X", "Y", "WIDTH", "HEIGHT"),
                        help="region of interest in sensor pixels (masks: 255 outside it)")
    parser.add_argument("--out", type=Path, default=Path(out), help="report folder")
    _topics(parser)
    parser.add_argument("--no-progress", action="store_true")
    add_json_option(parser)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bag", help="record, import, evaluate and replay rosbag2 files")
    sub = parser.add_subparsers(title="commands", dest="bag_command", metavar="COMMAND")
    record = sub.add_parser("record", help="write a synthetic sequence to a bag")
    record.add_argument("out", type=Path, help="bag folder to create")
    record.add_argument("--seed", type=int, default=1000)
    record.add_argument("--duration", type=float, default=10.0, help="s")
    record.add_argument("--width", type=int, default=346)
    record.add_argument("--height", type=int, default=260)
    _writing(record)
    record.set_defaults(func=run_record)
    imp = sub.add_parser(
        "import", help="write a real recording to a bag: DSEC-Semantic, DDD17 or AEDAT4",
        description="ness bag import dsec|ddd17|aedat4 PATH --out BAG (or: ness bag import "
                    "FILE.aedat4 OUT). DSEC: PATH is a sequence folder (official or ESS "
                    "layout); DDD17: a split folder of the Ev-SegNet release (or the root with "
                    "--split).")
    imp.add_argument("kind", help="dsec, ddd17 or aedat4 (or an AEDAT4 file: the old form)")
    imp.add_argument("source", nargs="?", type=Path, default=None,
                     help="the sequence folder or file (old form: the bag folder)")
    imp.add_argument("--out", type=Path, default=None, help="bag folder to create")
    imp.add_argument("--classes", choices=("dataset", "ddd17"), default="dataset",
                     help="labels: the data set's own ids (DSEC 11 classes) or the six DDD17 "
                          "classes (DSEC mapped); default %(default)s")
    imp.add_argument("--window", type=float, default=0.05,
                     help="s: events before the first label (DSEC), one sample's window and "
                          "spacing (DDD17)")
    imp.add_argument("--start", type=float, default=0.0, help="s after the first label")
    imp.add_argument("--duration", type=float, default=None, help="s of labels (default: all)")
    imp.add_argument("--split", default=None, help="DDD17: split folder under PATH")
    imp.add_argument("--no-rectify", action="store_true",
                     help="DSEC: ignore rectify_map.h5")
    imp.add_argument("--no-frames", action="store_true",
                     help="DSEC: leave the frames out even when the sequence has images/ and "
                          "calibration/ (default: written, in the label frame, rgb8)")
    _writing(imp)
    imp.set_defaults(func=run_import, event_message=None)
    info = sub.add_parser("info", help="topics, types, counts and span of a bag")
    info.add_argument("bag", type=Path)
    add_json_option(info)
    info.set_defaults(func=run_info)
    ev = sub.add_parser("eval", help="offline evaluation, reading the bag directly")
    ev.add_argument("--event-lag", type=float, default=0.05,
                    help="a frame waits at most this much bag time for its events, s")
    _evaluating(ev, "runs/bag_eval")
    ev.set_defaults(func=run_eval)
    rp = sub.add_parser("replay", help="live evaluation: publish the bag, node in its process")
    rp.add_argument("--rate", type=float, default=1.0, help="1.0 = real time")
    rp.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE",
                    help="further node parameter (repeatable)")
    rp.add_argument("--startup-timeout", type=float, default=120.0, help="s")
    _evaluating(rp, "runs/bag_replay")
    rp.set_defaults(func=run_replay)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _record_options(args: argparse.Namespace):
    from ness_ros.bag.record import RecordOptions

    return RecordOptions(storage=args.storage, event_message=args.event_message,
                         packet_encoding=args.packet_encoding, event_period_s=args.event_period,
                         frame_id=args.frame_id, topics=_topic_names(args),
                         progress=not args.no_progress)


def _topic_names(args: argparse.Namespace) -> dict[str, str]:
    return {key: getattr(args, f"{key}_topic") for key in DEFAULT_TOPICS}


def _print_summary(summary, json_path: Path | None) -> int:
    rows = [{"topic": t, "messages": n} for t, n in summary.messages.items()]
    print(format_table(rows, title=f"{summary.path} ({summary.storage}): {summary.frames} "
                       f"frames, {summary.events:,} events over {summary.duration_s:.3f} s, "
                       f"{summary.bytes / 1e6:.1f} MB of messages"))
    write_json(json_path, {**summary.__dict__, "path": str(summary.path)})
    return 0


def run_record(args: argparse.Namespace) -> int:
    from ness_ros.bag.record import record_sequence
    from ness_ros.data.cache import cached_sequence
    from ness_ros.data.sequence import SequenceConfig

    config = SequenceConfig(width=args.width, height=args.height, duration_s=args.duration)
    sequence = cached_sequence(args.seed, config, progress=not args.no_progress)
    summary = record_sequence(sequence, args.out, _record_options(args))
    return _print_summary(summary, args.json)


def run_import(args: argparse.Namespace) -> int:
    from ness_ros.bag.import_real import DATASETS, ImportOptions, import_real
    from ness_ros.bag.record import import_aedat4

    kind, source, out = args.kind, args.source, args.out
    if kind not in (*DATASETS, "aedat4"):  # the old form: ness bag import FILE OUT
        kind, source, out = "aedat4", Path(args.kind), out or source
    if source is None or out is None:
        raise CliError("give the recording and the bag: ness bag import dsec|ddd17|aedat4 PATH "
                       "--out BAG", USAGE)
    real = kind in DATASETS
    if args.event_message is None:  # real data sets: EventPacket evt3, as event cameras send
        args.event_message = "packet" if real else "dvs"
    record = _record_options(args)
    if real:
        options = ImportOptions(record=record, classes=args.classes, window_s=args.window,
                                start_s=args.start, duration_s=args.duration,
                                rectify=False if args.no_rectify else None, split=args.split,
                                frames=False if args.no_frames else None)
        summary = import_real(kind, source, out, options)
    else:
        summary = import_aedat4(source, out, record)
    if real:
        print(f"source: {summary.source}")
        print(f"labels: {summary.labels} on {record.topics['labels']}, classes "
              f"{summary.classes} ({', '.join(summary.class_names)})")
        for note in summary.notes:
            print(f"note: {note}")
    return _print_summary(summary, args.json)


def run_info(args: argparse.Namespace) -> int:
    from ness_ros.bag.reader import bag_info

    info = bag_info(args.bag)
    rows = [{"topic": n, "type": t, "messages": c} for n, (t, c) in info.topics.items()]
    print(format_table(rows, title=f"{info.path} ({info.storage}): {info.message_count} "
                       f"messages over {info.duration_s:.3f} s"))
    write_json(args.json, {"path": str(info.path), "storage": info.storage,
                           "duration_s": info.duration_s, "start_ns": info.start_ns,
                           "topics": {n: {"type": t, "messages": c}
                                      for n, (t, c) in info.topics.items()}})
    return 0


def _gating(args: argparse.Namespace):
    return GatingConfig(reuse=args.reuse, theta=args.theta,
                   residual_theta=args.residual_theta, rows=args.grid[0], cols=args.grid[1],
                   margin=args.margin, keyframe_interval=args.keyframe_interval,
                   keyframe_max_age_s=args.keyframe_max_age,
                   max_changed_fraction=args.max_changed_fraction)


def _show(report, args: argparse.Namespace) -> int:
    from ness_ros.bag.report import write_report

    rows = [{"figure": k, "value": v} for k, v in report.figures.items()]
    print(format_table(rows, title=report.title))
    if report.per_class_iou:
        print(format_table([{"class": k, "IoU": v} for k, v in report.per_class_iou.items()],
                           title="per-class IoU"))
    files = write_report(report, args.out)
    print("written: " + ", ".join(str(p) for p in files.values()))
    write_json(args.json, report.to_json())
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from ness_ros.bag.offline import EvalOptions, evaluate_bag
    from ness_ros.bag.reader import bag_info, resolve_topics
    from ness_ros.models.weights import default_weights_path, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    with option_errors():
        guided = upsampling(args, hybrid=args.mode == "hybrid")
        arch = "segsnn" if args.mode == "hybrid" else "evsegsnn"
        model, card = load_model(args.model or default_weights_path(arch), device=args.device)
        if card.architecture != arch:
            raise CliError(f"--mode {args.mode} needs a {arch} model, {args.model} is "
                           f"{card.architecture}")
        topics = resolve_topics(bag_info(args.bag), **_topic_names(args))
        options = EvalOptions(mode=args.mode, gating=_gating(args), period_s=args.period,
                              event_lag_s=args.event_lag, device=args.device,
                              guided=guided, working=_working(args),
                              progress=not args.no_progress)
        report = evaluate_bag(args.bag, model, card, topics, options)
    return _show(report, args)


def _working(args: argparse.Namespace):
    """The working resolution of ``--working-size`` and ``--roi`` (masks at the sensor's
    resolution, where the labels are)."""
    from ness_ros.segmentation.working_resolution import (
        EVENT_ONLY_MAX_PIXELS,
        WorkingResolution,
    )

    x, y, width, height = args.roi or (0, 0, 0, 0)
    cap = EVENT_ONLY_MAX_PIXELS if args.mode == "events" else 0  # as the nodes' defaults
    return WorkingResolution.from_params(args.working_size, x, y, width, height, "sensor", cap)


def _param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition(":=")
    if not sep or not name:
        raise CliError(f"--param takes NAME:=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return name, cast(raw)
        except ValueError:
            pass
    return name, {"true": True, "false": False}.get(raw.lower(), raw)


def run_replay(args: argparse.Namespace) -> int:
    from ness_ros.bag.reader import bag_info, resolve_topics
    from ness_ros.bag.replay import ReplayOptions
    from ness_ros.ros.bag_replay import replay_bag

    with option_errors():
        guided = upsampling(args, hybrid=args.mode == "hybrid")
        params: dict[str, Any] = {}
        if args.mode == "hybrid":
            params = {node: getattr(args, dest) for dest, node in GATING.items()}
            params.update(grid_rows=args.grid[0], grid_cols=args.grid[1],
                          guided_upsampling=guided is not None)
            _gating(args).validate()
        _working(args)  # refused here, with the option named, rather than by the node
        params.update(working_size=args.working_size)
        if args.roi:
            params.update(zip(("roi_x_offset", "roi_y_offset", "roi_width", "roi_height"),
                              args.roi, strict=True))
        params.update(_param(p) for p in args.param)
        topics = resolve_topics(bag_info(args.bag), **_topic_names(args))
        env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
        options = ReplayOptions(mode=args.mode, rate=args.rate, model=args.model,
                                device=args.device, node_params=params, period_s=args.period,
                                startup_timeout_s=args.startup_timeout, log_dir=args.out / "logs",
                                node_env=env, progress=not args.no_progress)
        report = replay_bag(args.bag, topics, options)
    _show(report, args)
    figures = report.figures
    if figures["node_exit_code"] != 0 or figures["masks_received"] == 0:
        print(f"ness bag replay: the node exited with {figures['node_exit_code']} after "
              f"{figures['masks_received']} masks; its log: {args.out / 'logs'}")
        return 1
    return 0
