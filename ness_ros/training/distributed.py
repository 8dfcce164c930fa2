"""Training on several processes with PyTorch's DistributedDataParallel, started by torchrun.

``torchrun --nproc-per-node N -m ness_ros.cli.main train ...`` starts N copies of ``ness
train``; each finds its rank in torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group: NCCL when it
trains on CUDA (one GPU per process, ``cuda:LOCAL_RANK``), gloo on the CPU. Gradients are
averaged by DistributedDataParallel itself; this module only sets the group up, shards what is
sharded and reduces what is reduced. Without torchrun (or with one process) nothing here does
anything, and training is the single-process one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ness_ros.training.errors import TrainingError


def world_from_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` as torchrun sets them; ``(0, 1, 0)`` without it."""
    return (int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
            int(os.environ.get("LOCAL_RANK", "0")))


def is_main_process() -> bool:
    """Whether this process writes files and prints (rank 0, or a run without torchrun)."""
    return world_from_env()[0] == 0


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run: rank, number of processes, device and backend."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""
    device: str = "cpu"

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block before the others (e.g. generates missing sequences into the
        shared cache, which the others then only read)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def all_reduce_sum(self, array: np.ndarray) -> np.ndarray:
        """``array`` summed over the processes (itself when alone)."""
        if not self.enabled:
            return array
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(self._comm_device())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.cpu().numpy()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every process (decisions that must agree, e.g. epochs left)."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, value: Any) -> list[Any]:
        """Every process's ``value``, in rank order."""
        if not self.enabled:
            return [value]
        found: list[Any] = [None] * self.world_size
        dist.all_gather_object(found, value)
        return found

    def _comm_device(self) -> str:
        return self.device if self.backend == "nccl" else "cpu"

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def setup(device: str) -> Distributed:
    """Join torchrun's process group when there is one (``WORLD_SIZE`` > 1).

    ``device`` is the configured one (``cpu`` or ``cuda``): with CUDA each process takes the GPU
    ``LOCAL_RANK`` and the group talks NCCL, else gloo.
    """
    rank, world_size, local_rank = world_from_env()
    if world_size <= 1:
        return Distributed(device=device)
    if device.startswith("cuda"):
        if torch.cuda.device_count() <= local_rank:
            raise TrainingError(f"process {rank} of {world_size} wants GPU {local_rank}, but "
                                f"{torch.cuda.device_count()} are visible: start at most "
                                "that many processes per node")
        device, backend = f"cuda:{local_rank}", "nccl"
        torch.cuda.set_device(local_rank)
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=rank,
                                world_size=world_size)
    return Distributed(rank, world_size, local_rank, backend, device)


def state_checksum(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's tensors (names, shapes, dtypes and bytes, in name order): equal
    on two processes exactly when they hold the same weights."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()
