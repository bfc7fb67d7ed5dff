"""The optimiser and learning-rate schedule of one training stage (``TrainConfig.optimizer`` / ``scheduler``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from livenessapp_training.train_config import TrainConfig

__all__ = ["make_optimizer", "make_scheduler"]


def make_optimizer(cfg: TrainConfig, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` names: Adadelta (the paper's; ``rho``, ``eps``), Adam or AdamW."""
    if cfg.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=cfg.rho, eps=cfg.eps, weight_decay=cfg.weight_decay)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def make_scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, total: int):
    """Per-step LR factor over a stage of ``total`` steps: linear warmup for ``warmup_steps``, then constant
    or a cosine decay to zero (``cfg.scheduler``)."""
    warm = max(int(cfg.warmup_steps), 0)

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if cfg.scheduler == "cosine":
            t = (step - warm) / max(total - warm, 1)
            return 0.5 * (1.0 + math.cos(math.pi * min(max(t, 0.0), 1.0)))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
