"""The dev check of ``liveness-train fit``: model selection on the dev split during stage 2.

Cheap on purpose: a deterministic subset of the dev videos and clips (:func:`scoring.subset_indices`),
video-level ACER with the threshold at the dev EER; the run keeps the weights of the best check as
``best.pt`` (lowest ACER, then EER; a tie goes to the later step). The check also watches the binary head:
a ``p_live`` that does not vary over the dev videos is a dead head (:func:`dead_binary_head_warning`).
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset, Subset

from livenessapp_training.scoring import evaluate_dataset, subset_indices

__all__ = ["dead_binary_head_warning", "dev_check", "improves"]


def dev_check(
    model: torch.nn.Module,
    dataset: Dataset,
    device: torch.device,
    max_videos: int,
    clips_per_video: int,
    batch_size: int,
) -> dict:
    """``{"acer", "eer", "threshold", "p_live_std"}`` of ``model``'s Eq. 18 score on a subset of ``dataset``:
    at most ``max_videos`` videos and ``clips_per_video`` clips of each (0 = all)."""
    idx = subset_indices(dataset, max_videos, clips_per_video)
    res = evaluate_dataset(model, Subset(dataset, idx), device, batch_size, num_workers=0, progress=False)
    v = res["variants"]["score"]
    return {
        "acer": v["acer"],
        "eer": v["eer"],
        "threshold": v["threshold"],
        "p_live_std": res.get("p_live_std", math.nan),
    }


def improves(entry: dict, best: dict) -> bool:
    """Whether the dev result ``entry`` replaces ``best`` (none yet, or ACER then EER no higher)."""
    return not best or (entry["acer"], entry["eer"]) <= (best["acer"], best["eer"])


def dead_binary_head_warning(model_cfg, p_live_std: float, where: str = "dev video") -> str | None:
    """A warning when a binary-supervised model's ``p_live`` does not vary (``p_live_std`` over the ``where``
    items, e.g. dev videos): its head outputs its bias alone (every hidden unit below zero for every input,
    the failure of the paper's ReLU head) and the cross-entropy no longer trains the STPM. None otherwise."""
    if not getattr(model_cfg, "has_binary", False) or not math.isfinite(p_live_std) or p_live_std > 1e-7:
        return None
    return (
        f"the binary head's p_live is the same for every {where}: the head is dead (every unit below zero) "
        "and no cross-entropy reaches the STPM. Train with binary_activation = 'leaky_relu' (the default) "
        f"instead of {getattr(model_cfg, 'binary_activation', 'relu')!r}, or lower stage2_lr."
    )
