"""Multi-GPU / multi-node helpers of ``liveness-train fit`` (DistributedDataParallel).

Launched by ``torchrun`` (env ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``), :func:`setup_distributed` joins the
process group (nccl on CUDA, gloo on CPU); otherwise it only picks the device. Only rank 0 logs and saves.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "all_mean", "setup_distributed", "teardown_distributed"]


@dataclass
class DistInfo:
    """This process's place in the run: global ``rank`` of ``world`` processes, ``local_rank`` on its node,
    and its device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_distributed(device: str) -> DistInfo:
    """Pick the device; join the process group when launched by torchrun (env RANK / WORLD_SIZE)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local if world > 1 else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, dev)


def teardown_distributed(synchronise: bool = True) -> None:
    """Leave the process group cleanly (a no-op when none is initialised).

    The DDP wrapper's reducer holds the process group and Gloo work objects; if the last reference to them
    goes only at interpreter shutdown, Gloo's threads release tensors when Python can no longer take the GIL
    and the process aborts ("terminate called without an active exception", exit -6) although training
    finished. So: collect them now, wait for every rank (``synchronise``; skip it after an error, when the
    other ranks may never arrive), then destroy the group while the interpreter is fully alive. Drop your
    own references to the wrapped model first."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()
    try:
        if synchronise:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def all_mean(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of ``x`` over all processes (``x`` itself in a single process)."""
    if info.distributed:
        x = x.detach().clone()
        dist.all_reduce(x)
        x /= info.world
    return x
