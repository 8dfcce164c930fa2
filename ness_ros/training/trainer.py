"""The training loop of ``ness train``: cross-entropy with ignore index, AdamW, one epoch of
linear warm-up then a cosine decay, validation MIoU every epoch, checkpoints with resume, and
export of the best model with its card.

On the CPU, samples are encoded on the fly (DataLoader workers optional). On CUDA every training
sample is encoded once and kept on the GPU, so that the GPU never waits for the CPU.
"""

from __future__ import annotations

import math
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import confusion_matrix, mean_iou, pixel_accuracy
from ness_ros.models.weights import ModelCard, init_from_model, save_model
from ness_ros.segmentation.predict import predict_labels, run_model
from ness_ros.training import distributed
from ness_ros.training.checkpoint import load_checkpoint, save_checkpoint
from ness_ros.training.config import FRAME_MEAN, FRAME_STD, TrainConfig
from ness_ros.training.data import load_or_generate
from ness_ros.training.dataset import (
    Augmentation,
    DeviceSamples,
    FrameSamples,
    augment_batch,
    collate,
)
from ness_ros.training.errors import TrainingError
from ness_ros.training.real_data import real_training_data


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_miou: float
    val_pixel_accuracy: float
    seconds: float


def class_weights(sequences, kind: str, num_classes: int = NUM_CLASSES) -> torch.Tensor | None:
    """Loss weights per class from the label frequencies of ``sequences`` (see TrainConfig)."""
    if kind == "none":
        return None
    _check_class_weights(kind)
    counts = sum(np.bincount(s.labels.ravel(), minlength=256)[:num_classes] for s in sequences)
    return weights_from_counts(np.asarray(counts), kind)


def _check_class_weights(kind: str) -> None:
    if kind not in ("none", "inverse_sqrt"):
        raise TrainingError(f"class_weights must be 'none' or 'inverse_sqrt', got {kind!r}")


def weights_from_counts(counts: np.ndarray, kind: str) -> torch.Tensor | None:
    """Loss weights per class from pixel ``counts`` per class (see TrainConfig.class_weights)."""
    _check_class_weights(kind)
    if kind == "none":
        return None
    freq = counts / max(1, counts.sum())
    weights = np.where(freq > 0, np.maximum(freq, 1e-6) ** -0.5, 0.0)
    weights = np.minimum(weights / weights[freq > 0].mean(), 10.0)
    return torch.tensor(weights, dtype=torch.float32)


def evaluate_frames(model: torch.nn.Module, samples: torch.utils.data.Dataset, *,
                    batch_size: int = 4, device: str = "cpu", progress: bool = False,
                    num_classes: int = NUM_CLASSES, workers: int = 0, desc: str = "validate",
                    model_seconds: list[float] | None = None) -> np.ndarray:
    """Confusion matrix (classes x classes, rows = truth) of ``model`` over ``samples``.

    ``model_seconds``, when given, receives the time of each batch's model pass (reading and
    encoding excluded)."""
    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    loader = torch.utils.data.DataLoader(samples, batch_size=batch_size, collate_fn=collate,
                                         num_workers=workers)
    for frames, events, labels in tqdm(loader, desc=desc, disable=not progress, leave=False):
        started = time.perf_counter()
        pred = predict_labels(model, frames.to(device), events.to(device)).cpu().numpy()
        if model_seconds is not None:
            model_seconds.append(time.perf_counter() - started)
        confusion += confusion_matrix(pred, labels.numpy(), num_classes, ignore=IGNORE_LABEL)
    return confusion


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True,
          log: Callable[[str], None] = print, stop_after: int | None = None,
          facts: dict[str, Any] | None = None
          ) -> tuple[torch.nn.Module, ModelCard, list[EpochRecord]]:
    """Train ``config.model``; returns the best model (by validation MIoU), its card, history.

    Checkpoints ``last`` (every epoch) and ``best`` go to ``config.out_dir``; ``resume`` continues
    from ``last`` with the same schedule. ``stop_after`` ends the run after that many epochs of
    this call (as an interruption would).

    Started by torchrun with several processes, each trains DistributedDataParallel on its shard
    of the training samples (``batch_size`` per process), validation is sharded and its
    confusion matrices summed, and rank 0 alone writes checkpoints (of the unwrapped model, so
    they resume with any number of processes) and logs. At the end every process's weights are
    compared by checksum; ``facts`` (when given) receives ``distributed``: the world size,
    backend, the checksums and whether they agree. A mismatch raises RuntimeError.
    """
    started_run = time.perf_counter()
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = config.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        log("CUDA is not available: training on the CPU")
        device = "cpu"
    ddp = distributed.setup(device)
    try:
        return _train(config, ddp, started_run, resume=resume, progress=progress and ddp.is_main,
                      log=log if ddp.is_main else _quiet, stop_after=stop_after, facts=facts)
    finally:
        ddp.close()


def _quiet(_: str) -> None:
    """The log of processes other than rank 0: rank 0 speaks for the run."""


def _train(config: TrainConfig, ddp: distributed.Distributed, started_run: float, *,
           resume: bool, progress: bool, log: Callable[[str], None], stop_after: int | None,
           facts: dict[str, Any] | None
           ) -> tuple[torch.nn.Module, ModelCard, list[EpochRecord]]:
    device = ddp.device
    encoder = config.encoder()
    classes = config.class_set()
    train_set: torch.utils.data.Dataset | None
    if config.dataset == "synthetic":
        with ddp.main_first():  # rank 0 generates missing sequences, the others read them
            train_seqs = load_or_generate(config.train_seeds, config, progress=progress)
            val_seqs = load_or_generate(config.val_seeds, config, progress=progress)
        train_set = FrameSamples(train_seqs, encoder)
        val_stride = max(1, sum(len(s.stamps_ns) for s in val_seqs) // max(1, config.val_frames))
        val_set: torch.utils.data.Dataset = FrameSamples(val_seqs, encoder,
                                                         frame_stride=val_stride)
        weights = class_weights(train_seqs, config.class_weights)
        input_size = (config.width, config.height)
    else:  # a real data set: read window by window, never all in memory
        real = real_training_data(config, encoder, classes, log=log)
        train_set, val_set, train_seqs = real.train, real.val, []
        weights = weights_from_counts(real.label_counts, config.class_weights)
        input_size = real.input_size
    augmentation = Augmentation(crop=tuple(config.crop))
    if config.preload not in ("auto", "yes", "no"):
        raise TrainingError(f"preload must be 'auto', 'yes' or 'no', got {config.preload!r}")
    preload = config.preload == "yes" or (config.preload == "auto" and device.startswith("cuda"))
    on_device = DeviceSamples(train_set, device, workers=config.data_workers,
                              progress=progress) if preload else None
    if ddp.enabled:  # each process its shard of the validation samples; matrices summed
        val_set = torch.utils.data.Subset(val_set, range(ddp.rank, len(val_set), ddp.world_size))
    # drop_last batches, of this process's shard (as DistributedSampler cuts it: even shards)
    steps_per_epoch = max(1, len(train_set) // ddp.world_size // config.batch_size)
    if on_device is not None:  # the encoded samples are all training needs now: free the rest
        train_set, train_seqs = None, []

    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed crop size: pick the fastest kernels once
    model = config.build_model()
    source_card = None  # the card of init_weights: the export chains its command and seeds
    if config.init_weights:
        copied, fresh, source_card = init_from_model(model, config.init_weights)
        log(f"started from {config.init_weights}: {len(copied)} tensors copied"
            + (f", {len(fresh)} fresh ({', '.join(fresh)})" if fresh else ""))
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    net = model  # checkpoints, validation and export use the unwrapped model
    schedule = WarmupCosine(steps_per_epoch, config.epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    out = Path(config.out_dir)
    history: list[EpochRecord] = []
    start_epoch, best_miou = 0, -1.0
    if resume and out.joinpath("last.json").is_file():
        meta = load_checkpoint(out / "last", model, optimizer, scheduler)
        start_epoch, best_miou = meta["epoch"] + 1, meta["best_miou"]
        _resume_schedule(scheduler, schedule, optimizer, start_epoch, steps_per_epoch)
        fitted = int(meta.get("config", {}).get("epochs", config.epochs))
        if config.time_budget_min > 0 and fitted < config.epochs:  # keep the fitted schedule
            config = replace(config, epochs=fitted)
            schedule.total_steps = fitted * steps_per_epoch
        history = [EpochRecord(**r) for r in meta["history"]]
        log(f"resumed from {out / 'last'} after epoch {meta['epoch']}")
    if ddp.enabled:
        # Buffers (batch-norm statistics) follow rank 0's, broadcast before every forward pass.
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ddp.local_rank] if ddp.backend == "nccl" else None)
        log(f"DistributedDataParallel: {ddp.world_size} processes ({ddp.backend}), "
            f"{steps_per_epoch} steps of {config.batch_size} samples each per epoch")

    generator = torch.Generator().manual_seed(config.seed)
    if weights is not None:
        log("class weights: " + ", ".join(f"{w:.2f}" for w in weights.tolist()))
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE_LABEL,
                                        weight=None if weights is None else weights.to(device))
    epochs = config.epochs
    last_epoch = epochs if stop_after is None else min(epochs, start_epoch + stop_after)
    epoch = start_epoch
    while epoch < last_epoch:
        # Each process its own augmentation draws (rank 0's are those of a lone process).
        generator.manual_seed(config.seed * 1000 + epoch + _RANK_SEED_STRIDE * ddp.rank)
        model.train()
        started, losses = time.perf_counter(), []
        batches = _training_batches(train_set, on_device, config, generator, ddp, epoch)
        bar = tqdm(batches, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{epochs}",
                   disable=not progress)
        for frames, events, labels in bar:
            frames, events, labels = augment_batch(
                frames.to(device), events.to(device), labels.to(device), augmentation, encoder,
                generator)
            logits = run_model(model, frames, events)
            loss = loss_fn(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        confusion = ddp.all_reduce_sum(evaluate_frames(
            net, val_set, device=device, progress=progress, num_classes=classes.num_classes))
        if ddp.enabled:
            _reset_neurons(net)
        miou = float(mean_iou(confusion))
        accuracy = pixel_accuracy(confusion)
        loss_sum, loss_count = ddp.all_reduce_sum(np.array([np.sum(losses), len(losses)]))
        record = EpochRecord(epoch, float(loss_sum / loss_count), miou, accuracy,
                             time.perf_counter() - started)
        history.append(record)
        log(f"epoch {epoch + 1}: loss {record.train_loss:.4f}  val MIoU {miou:.4f}  "
            f"pixel acc {accuracy:.4f}  ({record.seconds:.0f} s)")
        if epoch == start_epoch and config.time_budget_min > 0:
            fitted = ddp.broadcast(_epochs_within_budget(  # rank 0's clock decides for all
                config, epoch, record.seconds, time.perf_counter() - started_run))
            if fitted < epochs:
                log(f"time budget {config.time_budget_min:g} min: {fitted} epochs instead of "
                    f"{epochs}")
                epochs = fitted
                config = replace(config, epochs=epochs)
                schedule.total_steps = epochs * steps_per_epoch
                last_epoch = min(last_epoch, epochs)
        if miou > best_miou:
            best_miou = miou
            if ddp.is_main:
                save_checkpoint(out / "best", net, optimizer, scheduler,
                                {"epoch": epoch, "best_miou": best_miou, "history": [],
                                 "config": asdict(config)})
        if ddp.is_main:
            save_checkpoint(out / "last", net, optimizer, scheduler,
                            {"epoch": epoch, "best_miou": best_miou,
                             "history": [asdict(r) for r in history], "config": asdict(config)})
        epoch += 1

    if ddp.enabled:
        _check_in_sync(net, ddp, log, facts)
        ddp.barrier()  # rank 0 has written the best checkpoint that every process reads next
    model = net
    load_checkpoint(out / "best", model, optimizer, None)
    best = max(history, key=lambda r: r.val_miou)
    card = ModelCard.for_model(
        model, input_size=input_size,
        event_window_ms=config.event_window_ms, event_clip=config.event_clip,
        event_scale=1.0 / config.event_clip,
        frame_mean=[FRAME_MEAN] * encoder.frame_channels or None,
        frame_std=[FRAME_STD] * encoder.frame_channels or None,
        training_command=_training_command(source_card, ddp.world_size),
        data_seeds=_data_seeds(config, source_card),
        class_names=list(classes.names), palette=classes.palette.tolist(),
        metrics={"val_miou": best.val_miou, "val_pixel_accuracy": best.val_pixel_accuracy,
                 "epochs": float(len(history))})
    return model, card, history


#: Offset between the augmentation seeds of consecutive ranks (beyond any epoch count).
_RANK_SEED_STRIDE = 1_000_003


def _reset_neurons(net: torch.nn.Module) -> None:
    """Clear the spiking neurons' state buffers. Validation leaves them shaped by each
    process's last (uneven) batch and made in inference mode: DistributedDataParallel could
    broadcast neither before the next training step."""
    for module in net.modules():
        reset = getattr(module, "reset", None)
        if callable(reset) and hasattr(module, "mem"):
            reset()


def _check_in_sync(net: torch.nn.Module, ddp: distributed.Distributed,
                   log: Callable[[str], None], facts: dict[str, Any] | None) -> None:
    """Compare every process's parameters by checksum (DistributedDataParallel keeps them
    equal; batch-norm statistics are rank 0's, which the checkpoints hold); RuntimeError when
    they differ."""
    sums = ddp.all_gather(distributed.state_checksum(dict(net.named_parameters())))
    in_sync = len(set(sums)) == 1
    if facts is not None:
        facts["distributed"] = {"world_size": ddp.world_size, "backend": ddp.backend,
                                "parameter_checksums": sums, "in_sync": in_sync}
    if not in_sync:
        raise TrainingError(f"the {ddp.world_size} processes ended with different weights: "
                            f"checksums {sums}")
    log(f"weights of the {ddp.world_size} processes agree (sha256 {sums[0][:16]})")


def _resume_schedule(scheduler: torch.optim.lr_scheduler.LambdaLR, schedule: WarmupCosine,
                     optimizer: torch.optim.Optimizer, start_epoch: int,
                     steps_per_epoch: int) -> None:
    """Restate the restored schedule in this run's steps per epoch, at the start of
    ``start_epoch``: the checkpoint counts the steps of the process count that wrote it (its
    warm-up is one of its epochs), which another count, with other shard sizes, would misread.
    Nothing changes when the count is the same."""
    written_epoch = max(1, schedule.warmup_steps)
    schedule.total_steps = schedule.total_steps * steps_per_epoch // written_epoch
    schedule.warmup_steps = steps_per_epoch
    scheduler.last_epoch = start_epoch * steps_per_epoch
    factor = schedule(scheduler.last_epoch)
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base * factor
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]  # noqa: SLF001


def _training_command(source: ModelCard | None, world_size: int = 1) -> str:
    """This run's command line, after the one that made its ``init_weights`` (card ``source``),
    joined by ``&&``: the card of a fine-tuned model says how to make it from nothing."""
    command = shlex.join(["ness", *sys.argv[1:]]) if sys.argv else ""
    if world_size > 1:  # the same run needs as many processes
        command = shlex.join(["torchrun", "--nproc-per-node", str(world_size), "-m",
                              "ness_ros.cli.main", *sys.argv[1:]])
    if source is not None and source.training_command:
        command = f"{source.training_command} && {command}"
    return command


def _data_seeds(config: TrainConfig, source: ModelCard | None) -> list[int]:
    """Seeds of every sequence the weights have seen, those of the ``init_weights`` (card
    ``source``) included, in the order first seen: held-out checks against the card stay
    sound."""
    seeds = (list(config.train_seeds) + list(config.val_seeds)
             if config.dataset == "synthetic" else [])  # a real data set has no seeds
    if source is not None:
        seeds = list(source.data_seeds) + seeds
    return list(dict.fromkeys(seeds))


class WarmupCosine:
    """Learning-rate factor per step: linear warm-up over ``warmup_steps``, then a cosine decay to
    zero at ``total_steps`` (settable after the warm-up without changing the steps before)."""

    def __init__(self, warmup_steps: int, total_steps: int) -> None:
        self.warmup_steps, self.total_steps = warmup_steps, total_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - self.warmup_steps) / span)))


def _epochs_within_budget(config: TrainConfig, epoch: int, epoch_s: float,
                          elapsed_s: float) -> int:
    """Epochs (counted from the first) that end within ``config.time_budget_min`` of the start,
    at ``epoch_s`` per epoch; at least the ``epoch + 1`` already done."""
    remaining = config.time_budget_min * 60.0 - elapsed_s
    return max(epoch + 1, min(config.epochs, epoch + 1 + int(remaining // max(epoch_s, 1e-3))))


def _training_batches(samples: torch.utils.data.Dataset | None,
                      on_device: DeviceSamples | None, config: TrainConfig,
                      generator: torch.Generator, ddp: distributed.Distributed, epoch: int):
    """One epoch of shuffled, whole (un-augmented) batches of this process's shard: drawn from
    the samples kept on the GPU, or encoded on the fly by a DataLoader."""
    if on_device is not None:
        if ddp.enabled:  # one permutation for all processes (seeded by epoch), dealt out
            order = torch.randperm(len(on_device),
                                   generator=torch.Generator().manual_seed(config.seed + epoch))
            order = order[:len(order) - len(order) % ddp.world_size][ddp.rank::ddp.world_size]
        else:
            order = torch.randperm(len(on_device), generator=generator)
        count = len(order) // config.batch_size
        return (on_device.batch(order[i * config.batch_size:(i + 1) * config.batch_size])
                for i in range(count))
    assert samples is not None
    if ddp.enabled:
        sampler: torch.utils.data.DistributedSampler = torch.utils.data.DistributedSampler(
            samples, num_replicas=ddp.world_size, rank=ddp.rank, shuffle=True, seed=config.seed,
            drop_last=True)
        sampler.set_epoch(epoch)  # a new order every epoch, the same on every process
        return torch.utils.data.DataLoader(samples, batch_size=config.batch_size,
                                           sampler=sampler, drop_last=True, collate_fn=collate,
                                           num_workers=config.data_workers)
    return torch.utils.data.DataLoader(samples, batch_size=config.batch_size, shuffle=True,
                                       drop_last=True, collate_fn=collate, generator=generator,
                                       num_workers=config.data_workers)


def export(model: torch.nn.Module, card: ModelCard, stem: Path) -> None:
    """Write the model and its card as ``stem``.safetensors and ``stem``.json."""
    save_model(model, card, stem)
