"""Batches of clip items (dicts of tensors and labels), shared by the training loaders and evaluation."""

from __future__ import annotations

import torch

__all__ = ["collate"]


def collate(items: list[dict]) -> dict:
    """``DataLoader`` ``collate_fn``: tensors stacked along a new batch axis, everything else as a list."""
    out: dict = {}
    for k in items[0]:
        vals = [it[k] for it in items]
        out[k] = torch.stack(vals) if torch.is_tensor(vals[0]) else vals
    return out
