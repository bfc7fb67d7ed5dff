"""Losses of FAS-SGTD (arXiv 1811.05118, Sec. 3.2.2 and 3.3.3) and the test score (Eq. 18).

- :func:`depth_loss`: Eq. 3, the squared Euclidean loss, as a mean (MSE) like the authors' code.
- :func:`contrastive_depth_loss`: Eq. 4, 8 fixed 3x3 kernels (-1 at the centre, +1 at one neighbour)
  applied depthwise to prediction and label; mean squared difference over kernels and pixels (CDCN's form).
- :func:`single_frame_loss`: Eq. 5, ``MSE + CDL`` (weights 1:1 as in CDCN / the paper).
- :func:`multi_frame_loss`: Eq. 11-15, ``beta * CE + (1 - beta) * mean_t (MSE_t + CDL_t)`` on the fused maps.
- :func:`liveness_score`: Eq. 18, ``beta * p_live + (1 - beta) * mean_t masked-mean(D_fusion(t))``.

Shapes: depth maps ``[..., 1, d, d]`` (any leading axes), labels live = 1 / spoof = 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "contrast_kernels",
    "depth_loss",
    "contrastive_depth_loss",
    "single_frame_loss",
    "multi_frame_loss",
    "liveness_score",
]

# (row, col) of the "+1" around the centre "-1", Fig. 4 order: clockwise from the top-left neighbour
_NEIGHBOURS = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0))


def contrast_kernels(
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """The 8 contrastive kernels ``K_i^contrast`` of Eq. 4 as ``[8, 1, 3, 3]``."""
    k = torch.zeros(8, 1, 3, 3, dtype=dtype, device=device)
    for i, (r, c) in enumerate(_NEIGHBOURS):
        k[i, 0, 1, 1] = -1.0
        k[i, 0, r, c] = 1.0
    return k


def _as_maps(x: torch.Tensor) -> torch.Tensor:
    """``[..., 1, d, d]`` or ``[..., d, d]`` -> ``[N, 1, d, d]``."""
    return x.reshape(-1, 1, x.shape[-2], x.shape[-1])


def depth_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``||D_pred - D||_2^2`` as a mean over pixels (MSE)."""
    return F.mse_loss(pred, target)


def contrastive_depth_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 4: ``sum_i ||K_i (*) D_pred - K_i (*) D||^2`` with the 8 fixed kernels (zero padding 1), as a mean
    over kernels and pixels. Each kernel gives ``D(neighbour_i) - D(centre)``: the local topography."""
    p, t = _as_maps(pred), _as_maps(target)
    k = contrast_kernels(p.dtype, p.device)
    return F.mse_loss(F.conv2d(p, k, padding=1), F.conv2d(t, k, padding=1))


def single_frame_loss(
    pred: torch.Tensor, target: torch.Tensor, use_contrastive: bool = True, cdl_weight: float = 1.0
) -> tuple[torch.Tensor, dict]:
    """Eq. 5: ``L_single = MSE (Eq. 3) + CDL (Eq. 4)``; ``use_contrastive=False`` is Table 5's Model 1*.
    Returns ``(loss, parts)`` with detached parts for logging."""
    mse = depth_loss(pred, target)
    parts = {"mse": mse.detach()}
    loss = mse
    if use_contrastive:
        cdl = contrastive_depth_loss(pred, target)
        parts["cdl"] = cdl.detach()
        loss = loss + cdl_weight * cdl
    return loss, parts


def _get(out, name: str):
    return out[name] if isinstance(out, dict) else getattr(out, name)


def multi_frame_loss(out, depth: torch.Tensor, label: torch.Tensor, cfg) -> tuple[torch.Tensor, dict]:
    """Eq. 11-15 on the network output ``out`` (an ``SGTDOutput`` or a dict with ``depth_fusion`` and
    ``logits``).

    ``depth``: the clip's depth labels ``[B, Nf, 1, d, d]`` (the first Nf-1, aligned with ``D_fusion(t)`` of
    pair ``(t, t+1)``, are used) or already ``[B, Nf-1, 1, d, d]``; ``label`` ``[B]`` int64 (1 = live).

    - ``L_depth = mean_t (MSE_t + CDL_t)`` (Eq. 11-13; the sum of Eq. 13 as a mean over the Nf-1 pairs);
    - ``L_binary = CE(f_cs(D_fusion), label)`` (Eq. 14, softmax inside the CE, applied once);
    - ``L = beta * L_binary + (1 - beta) * L_depth`` (Eq. 15). Without binary supervision
      (``cfg.has_binary`` false: Table 4's starred models) ``L = L_depth``.
    """
    fusion = _get(out, "depth_fusion")
    t = fusion.shape[1]
    target = depth[:, :t] if depth.shape[1] != t else depth
    use_cdl = getattr(cfg, "use_contrastive", True)
    mse = torch.stack([depth_loss(fusion[:, i], target[:, i]) for i in range(t)]).mean()
    parts = {"mse": mse.detach()}
    l_depth = mse
    if use_cdl:
        cdl = torch.stack([contrastive_depth_loss(fusion[:, i], target[:, i]) for i in range(t)]).mean()
        parts["cdl"] = cdl.detach()
        l_depth = l_depth + cdl
    parts["depth"] = l_depth.detach()
    has_binary = getattr(cfg, "has_binary", getattr(cfg, "use_binary", True))
    if not has_binary:
        return l_depth, parts
    ce = F.cross_entropy(_get(out, "logits"), label.long())
    parts["ce"] = ce.detach()
    beta = float(cfg.beta)
    return beta * ce + (1.0 - beta) * l_depth, parts


def liveness_score(
    p_live: torch.Tensor, depth_fusion: torch.Tensor, mask: torch.Tensor | None = None, beta: float = 0.9
) -> torch.Tensor:
    """Eq. 18: ``score = beta * p_live + (1 - beta) * mean_t( sum(D_fusion(t) * M(t)) / sum(M(t)) )``.

    ``p_live [B]``, ``depth_fusion [B, T, 1, d, d]``, ``mask`` the face masks of the same T maps (None = all
    ones). The paper's ``||D * M||_1`` is taken as the masked MEAN (reference notes), so the depth term lies
    in the label range [0, 1]."""
    if mask is None:
        mask = torch.ones_like(depth_fusion)
    num = (depth_fusion * mask).flatten(2).sum(-1)
    den = mask.flatten(2).sum(-1).clamp_min(1e-6)
    return beta * p_live + (1.0 - beta) * (num / den).mean(1)
