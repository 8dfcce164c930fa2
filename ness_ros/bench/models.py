"""``ness bench models``: size, work and speed of EvSegSNN and SegSNN, and SegSNN on a batch of
region crops against the full frame.

Uses the packaged weights (``ness_ros/weights/<name>.safetensors``) when they exist and match the
requested time steps, otherwise an untrained network (batch-norm statistics calibrated on the
benchmark input, so that it spikes as a trained one would). Inputs are synthetic: a smooth random
frame and events of density ``--event-density`` per pixel, polarity and time bin. Spike counts,
synaptic operations and crop agreement depend on the weights and the input; parameters, MACs and
timings do not.

Crops: the frame is split into a grid of regions (``--grid``, 4 x 3 = 12 by default); each region
is grown by ``--margin`` pixels of context and its edges moved out to multiples of the model's
stride, and all crops (one common size) go through the model in ONE batched forward pass, as the
hybrid segmenter runs its changed regions. "agreement" is the fraction of the regions' pixels
whose label from the crop equals the full frame's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from ness_ros.report_tables import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models", help="EvSegSNN and SegSNN: parameters, MACs, synaptic ops, energy, frames/s",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=346, help="frame width (default 346)")
    parser.add_argument("--height", type=int, default=260, help="frame height (default 260)")
    parser.add_argument("--steps", type=int, default=None,
                        help="time steps T of both models (default: each model's own, "
                             "EvSegSNN 4, SegSNN 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed forward passes; the median is reported (default 15)")
    parser.add_argument("--grid", default="4x3", help="regions, COLSxROWS (default 4x3)")
    parser.add_argument("--margin", type=int, default=None,
                        help="context margin around each region, pixels (default: "
                             "SegSNN.context_margin, 32)")
    parser.add_argument("--event-density", type=float, default=0.05,
                        help="probability of an event per pixel, polarity and bin (0.05)")
    parser.add_argument("--random-weights", action="store_true",
                        help="ignore packaged weights; use untrained networks")
    add_json_option(parser)
    parser.set_defaults(func=run)


def median_seconds(forwards: list[Callable[[], Any]], repeats: int) -> list[float]:
    """Median wall time of each forward pass, under ``torch.inference_mode``.

    The passes are interleaved (one of each per round, after two warm-up rounds) so that load
    from other processes on a shared machine falls on all of them alike and their ratios hold.
    """
    import torch

    times: list[list[float]] = [[] for _ in forwards]
    with torch.inference_mode():
        for round_ in range(repeats + 2):
            for forward, measured in zip(forwards, times, strict=True):
                start = time.perf_counter()
                forward()
                if round_ >= 2:
                    measured.append(time.perf_counter() - start)
    return [statistics.median(measured) for measured in times]


def _build(name: str, steps: int | None, random_weights: bool, inputs_for: Callable
           ) -> tuple[Any, str, tuple]:
    """The model ``name`` in eval mode, where its weights came from, and its inputs."""
    from ness_ros.models import ARCHITECTURES, ModelError, default_weights_path, load_model
    from ness_ros.models.spiking import calibrate_batch_norm

    path = default_weights_path(name)
    if not random_weights and path.is_file():
        try:
            model, card = load_model(path)
            if steps is None or card.num_steps == steps:
                return model, f"{path.name}", inputs_for(model)
        except ModelError as exc:
            print(f"ignoring {path}: {exc}")
    kwargs = {} if steps is None else {"num_steps": steps}
    model = ARCHITECTURES[name](**kwargs)
    inputs = inputs_for(model)
    calibrate_batch_norm(model, *inputs)
    return model, "untrained", inputs


def run(args: argparse.Namespace) -> int:
    import torch
    import torch.nn.functional as F

    from ness_ros.models import SegSNN, measure_work
    from ness_ros.models.spiking import pad_to_multiple
    from ness_ros.segmentation.crops import region_windows, stack_crops
    from ness_ros.segmentation.predict import inference_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cols, rows = (int(v) for v in args.grid.lower().split("x"))
    height, width = args.height, args.width
    generator = torch.Generator().manual_seed(0)

    def events(steps: int, channels: int = 2) -> torch.Tensor:
        shape = (steps, 1, channels, height, width)
        return (torch.rand(shape, generator=generator) < args.event_density).float()

    def frame(channels: int) -> torch.Tensor:
        coarse = torch.randn(1, channels, height // 32 + 2, width // 32 + 2, generator=generator)
        smooth = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
        return smooth + 0.2 * torch.randn(1, channels, height, width, generator=generator)

    def inputs_for(model: torch.nn.Module) -> tuple[torch.Tensor, ...]:
        if isinstance(model, SegSNN):
            return frame(model.frame_channels), events(model.num_steps, model.event_channels)
        return (events(model.num_steps, model.in_channels),)

    built = {name: _build(name, args.steps, args.random_weights, inputs_for)
             for name in ("evsegsnn", "segsnn")}
    model, source, (full_frame, full_events) = built["segsnn"]
    margin = SegSNN.context_margin if args.margin is None else args.margin
    (crop_w, crop_h), windows = region_windows(width, height, cols, rows, margin,
                                               model.total_stride)
    # Crops of the frame padded as the model pads it, so edge crops see the same zeros, cut
    # as the hybrid segmenter cuts them.
    crop_frames, crop_events = stack_crops(
        pad_to_multiple(full_frame, model.total_stride)[0],
        pad_to_multiple(full_events, model.total_stride)[:, 0],
        [(x, y, x + crop_w, y + crop_h) for _, (x, y) in windows])

    # Timed as the segmenters run them (batch norm folded); work is counted on the originals.
    ev_model, ev_inputs = inference_model(built["evsegsnn"][0]), built["evsegsnn"][2]
    timed = inference_model(model)
    ev_seconds, full_seconds, crop_seconds = median_seconds(
        [lambda: ev_model(*ev_inputs), lambda: timed(full_frame, full_events),
         lambda: timed(crop_frames, crop_events)], args.repeats)

    works = {name: measure_work(net, *inputs) for name, (net, _, inputs) in built.items()}
    full_work = works["segsnn"]
    rows_out, figures = [], {"settings": {k: v for k, v in vars(args).items()
                                          if k not in ("func", "json")}, "models": []}
    for name, seconds in (("evsegsnn", ev_seconds), ("segsnn", full_seconds)):
        net, net_source, _ = built[name]
        row = _row(f"{type(net).__name__} full frame", net_source, net.num_steps, 1,
                   works[name], seconds)
        rows_out.append(row)
        figures["models"].append({"name": name, **row, **works[name].as_dict()})
    # libgomp reads OMP_WAIT_POLICY when torch loads: with the default (spinning) policy, two
    # threads on a 2-core machine that is busy with anything else run several times slower.
    wait_policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    figures["settings"]["OMP_WAIT_POLICY"] = wait_policy
    print(format_table(rows_out, title=f"Models at {width} x {height}, {args.threads} torch "
                                       f"threads (OMP_WAIT_POLICY {wait_policy}), median of "
                                       f"{args.repeats} (per frame)"))

    crop_work = measure_work(model, crop_frames, crop_events).scaled(len(windows))
    with torch.inference_mode():
        full_labels = timed(full_frame, full_events).argmax(1)[0]
        crop_labels = timed(crop_frames, crop_events).argmax(1)
    agree = total = 0
    for i, ((x0, y0, x1, y1), (cx, cy)) in enumerate(windows):
        kept = crop_labels[i, y0 - cy:y1 - cy, x0 - cx:x1 - cx]
        agree += int((kept == full_labels[y0:y1, x0:x1]).sum())
        total += kept.numel()
    crop_rows = [
        {**_row("full frame", source, model.num_steps, 1, full_work, full_seconds),
         "input px": width * height, "time ratio": 1.0, "agreement": 1.0},
        {**_row(f"{len(windows)} crops, one batch", source, model.num_steps, len(windows),
                crop_work, crop_seconds),
         "input px": len(windows) * crop_w * crop_h, "time ratio": crop_seconds / full_seconds,
         "agreement": agree / total},
    ]
    print()
    print(format_table(crop_rows, title=f"SegSNN: {cols} x {rows} regions + {margin} px margin "
                                        f"= crops of {crop_w} x {crop_h} vs the full frame "
                                        "(work per frame: all crops together)"))
    figures["segsnn_crops"] = {"grid": [cols, rows], "margin": margin, "crop_size": [crop_w,
                               crop_h], "rows": crop_rows}
    write_json(args.json, figures)
    return 0


def _row(label: str, source: str, steps: int, batch: int, work: Any, seconds: float
         ) -> dict[str, Any]:
    return {
        "model": label, "weights": source, "T": steps, "batch": batch, "params": work.params,
        "MMACs": work.macs / 1e6, "M synops": work.synops / 1e6,
        "uJ MAC": work.energy_mac_j * 1e6, "uJ AC": work.energy_ac_j * 1e6,
        "uJ total": work.energy_total_j * 1e6, "spike rate": work.spike_rate,
        "ms": seconds * 1e3, "frames/s": 1.0 / seconds,
    }
