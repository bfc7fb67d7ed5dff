"""Checkpoints of ``liveness-train fit``: what a run saves, how it resumes, and loading a trained model.

Two kinds of file, both a ``torch.save`` dict with ``format`` = :data:`CHECKPOINT_FORMAT`:

- the resumable checkpoint (``RUN/checkpoints/last.pt``, ``stage1.pt``): ``model`` (state dict),
  ``model_config`` (``SGTDConfig.to_dict()``), ``train_config`` (``TrainConfig.to_dict()``), ``stage``,
  ``stage_step``, ``step``, ``epoch``, ``batch`` (the data position), ``best`` and ``dev_history`` (the dev
  selection so far), ``optimizer``, ``scheduler`` and ``rng`` (torch, numpy, python and CUDA states);
- weights only (``RUN/best.pt``, ``RUN/final.pt``): ``model``, ``model_config``, ``train_config``,
  ``stage``, ``step``, ``data_summary`` and, for ``best.pt``, ``dev`` (the dev result that selected it).

:func:`load_model` reads either back as a network in eval mode; :func:`load_resume` reads a resumable one.
Files are written atomically (:func:`save_atomic`), so an interrupted save never leaves a broken file.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainState",
    "load_model",
    "load_resume",
    "resolve_checkpoint",
    "rng_state",
    "save_atomic",
    "set_rng_state",
    "training_checkpoint",
    "weights_checkpoint",
]

CHECKPOINT_FORMAT = "livenessapp-train/1"


@dataclass
class TrainState:
    """Where the run is: ``stage`` 1|2, steps done in the stage and overall, and the data position."""

    stage: int = 1
    stage_step: int = 0
    global_step: int = 0
    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already consumed
    best: dict = field(default_factory=dict)  # best dev result of stage 2: {"acer", "eer", "step", ...}
    dev_history: list = field(default_factory=list)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> TrainState:
        return cls(
            stage=ckpt["stage"],
            stage_step=ckpt["stage_step"],
            global_step=ckpt["step"],
            epoch=ckpt["epoch"],
            batch=ckpt["batch"],
            best=ckpt.get("best") or {},
            dev_history=list(ckpt.get("dev_history") or []),
        )


def training_checkpoint(model: nn.Module, model_cfg, train_cfg, state: TrainState, opt, sched) -> dict:
    """The resumable checkpoint of a run at ``state`` (``opt`` / ``sched`` may be None)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "model_config": model_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "stage": state.stage,
        "stage_step": state.stage_step,
        "step": state.global_step,
        "epoch": state.epoch,
        "batch": state.batch,
        "best": state.best,
        "dev_history": state.dev_history,
        "optimizer": opt.state_dict() if opt is not None else None,
        "scheduler": sched.state_dict() if sched is not None else None,
        "rng": rng_state(),
    }


def weights_checkpoint(
    model: nn.Module, model_cfg, train_cfg, state: TrainState, data_summary: dict, **extra
) -> dict:
    """Weights only (``best.pt`` / ``final.pt``), with the configs, the stage and step, the data summary."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "model_config": model_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "stage": state.stage,
        "step": state.global_step,
        "data_summary": data_summary,
        **extra,
    }


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary name beside ``path``, then rename (atomic on one file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def resolve_checkpoint(path: str | Path, prefer: Sequence[str] = ("best.pt", "final.pt")) -> Path:
    """A checkpoint file, or the preferred weights in a run folder (then ``checkpoints/last.pt``)."""
    path = Path(path)
    if path.is_file():
        return path
    for name in (*prefer, "checkpoints/last.pt"):
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(f"no checkpoint at {path} (looked for {', '.join(prefer)}, checkpoints/last.pt)")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """``(model in eval mode, checkpoint dict without the tensors)`` from a checkpoint or run folder."""
    ckpt_path = resolve_checkpoint(path)
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    model = FASSGTD(SGTDConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "scheduler", "rng")}
    meta["path"] = os.fspath(ckpt_path)
    return model, meta


def load_resume(path: str | Path) -> dict:
    """The resumable checkpoint at ``path`` (a file, or a run folder: its ``checkpoints/last.pt``)."""
    path = Path(path)
    path = path / "checkpoints" / "last.pt" if path.is_dir() else path
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a training checkpoint ({CHECKPOINT_FORMAT})")
    return ckpt


def rng_state() -> dict:
    """The RNG states of torch, numpy, python (and CUDA when available), for an exact resume."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(Exception):
            torch.cuda.set_rng_state_all(state["cuda"])
