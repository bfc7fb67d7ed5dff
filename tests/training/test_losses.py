"""Losses (training/losses.py): Eq. 3, 4, 5, 11-15 and the score Eq. 18."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from livenessapp_training import losses
from livenessapp_training.fas_sgtd import SGTDConfig, SGTDOutput


def _cdl_loop(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Eq. 4 by hand: for each of the 8 neighbours, (D(n) - D(c)) with zero padding; mean squared difference."""
    p, t = (
        pred.reshape(-1, pred.shape[-2], pred.shape[-1]),
        target.reshape(-1, pred.shape[-2], pred.shape[-1]),
    )
    n, h, w = p.shape
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    total, count = 0.0, 0
    for k in range(n):
        for dy, dx in offsets:
            for y in range(h):
                for x in range(w):
                    yy, xx = y + dy, x + dx
                    inside = 0 <= yy < h and 0 <= xx < w
                    cp = (float(p[k, yy, xx]) if inside else 0.0) - float(p[k, y, x])
                    ct = (float(t[k, yy, xx]) if inside else 0.0) - float(t[k, y, x])
                    total += (cp - ct) ** 2
                    count += 1
    return total / count


def test_contrast_kernels():
    k = losses.contrast_kernels()
    assert k.shape == (8, 1, 3, 3)
    assert torch.all(k[:, 0, 1, 1] == -1) and torch.all(k.sum((1, 2, 3)) == 0)
    assert torch.all((k == 1).sum((1, 2, 3)) == 1)
    ones = (k == 1).flatten(1).float().argmax(1)
    assert sorted(ones.tolist()) == [0, 1, 2, 3, 5, 6, 7, 8]  # every neighbour once, never the centre


def test_contrastive_depth_loss_equals_loop():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 1, 5, 5, generator=g), torch.rand(2, 3, 1, 5, 5, generator=g)
    assert losses.contrastive_depth_loss(pred, target).item() == pytest.approx(
        _cdl_loop(pred, target), rel=1e-5
    )
    assert losses.contrastive_depth_loss(target, target).item() == 0.0


def test_depth_and_single_frame_loss():
    g = torch.Generator().manual_seed(1)
    pred, target = torch.rand(4, 1, 6, 6, generator=g), torch.rand(4, 1, 6, 6, generator=g)
    mse = ((pred - target) ** 2).mean()
    assert torch.allclose(losses.depth_loss(pred, target), mse)
    loss, parts = losses.single_frame_loss(pred, target)
    assert torch.allclose(loss, mse + losses.contrastive_depth_loss(pred, target))
    assert set(parts) == {"mse", "cdl"}
    loss, parts = losses.single_frame_loss(pred, target, use_contrastive=False)
    assert torch.allclose(loss, mse) and set(parts) == {"mse"}
    pred.requires_grad_(True)
    losses.single_frame_loss(pred, target)[0].backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def _output(b: int, t: int, d: int, seed: int = 2) -> SGTDOutput:
    g = torch.Generator().manual_seed(seed)
    fusion = torch.rand(b, t, 1, d, d, generator=g)
    logits = torch.randn(b, 2, generator=g)
    p_live = torch.softmax(logits, 1)[:, 1]
    return SGTDOutput(torch.rand(b, t + 1, 1, d, d, generator=g), None, fusion, logits, p_live, p_live)


def test_multi_frame_loss_eq15():
    cfg = SGTDConfig.tiny(beta=0.7)
    b, nf, d = 3, cfg.num_frames, cfg.depth_size
    out = _output(b, nf - 1, d)
    depth = torch.rand(b, nf, 1, d, d, generator=torch.Generator().manual_seed(5))
    label = torch.tensor([1, 0, 1])
    per_t = [
        F.mse_loss(out.depth_fusion[:, i], depth[:, i])
        + losses.contrastive_depth_loss(out.depth_fusion[:, i], depth[:, i])
        for i in range(nf - 1)
    ]
    l_depth = torch.stack(per_t).mean()
    ce = F.cross_entropy(out.logits, label)
    loss, parts = losses.multi_frame_loss(out, depth, label, cfg)
    assert torch.allclose(loss, 0.7 * ce + 0.3 * l_depth)
    assert torch.allclose(parts["ce"], ce) and torch.allclose(parts["depth"], l_depth)
    # labels already cut to the Nf-1 pairs give the same loss
    assert torch.allclose(losses.multi_frame_loss(out, depth[:, :-1], label, cfg)[0], loss)
    # without binary supervision: the depth loss alone
    loss_nb, parts_nb = losses.multi_frame_loss(out, depth, label, SGTDConfig.tiny(use_binary=False))
    assert torch.allclose(loss_nb, l_depth) and "ce" not in parts_nb
    # without the contrastive term
    loss_nc, _ = losses.multi_frame_loss(out, depth, label, SGTDConfig.tiny(beta=0.7, use_contrastive=False))
    mse = torch.stack([F.mse_loss(out.depth_fusion[:, i], depth[:, i]) for i in range(nf - 1)]).mean()
    assert torch.allclose(loss_nc, 0.7 * ce + 0.3 * mse)
    # dict outputs work as well
    as_dict = {"depth_fusion": out.depth_fusion, "logits": out.logits}
    assert torch.allclose(losses.multi_frame_loss(as_dict, depth, label, cfg)[0], loss)


def test_liveness_score_eq18_by_hand():
    fusion = torch.zeros(1, 2, 1, 2, 2)
    fusion[0, 0, 0] = torch.tensor([[1.0, 0.5], [0.2, 0.0]])
    fusion[0, 1, 0] = torch.tensor([[0.4, 0.4], [0.9, 0.1]])
    mask = torch.zeros(1, 2, 1, 2, 2)
    mask[0, 0, 0] = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # mean 0.75
    mask[0, 1, 0] = torch.tensor([[0.0, 1.0], [1.0, 1.0]])  # mean (0.4 + 0.9 + 0.1) / 3
    p_live = torch.tensor([0.8])
    depth_term = (0.75 + 1.4 / 3) / 2
    want = 0.9 * 0.8 + 0.1 * depth_term
    assert losses.liveness_score(p_live, fusion, mask, beta=0.9).item() == pytest.approx(want, rel=1e-6)
    no_mask = (fusion.mean((2, 3, 4))).mean(1)
    assert losses.liveness_score(p_live, fusion, None, beta=0.5).item() == pytest.approx(
        0.5 * 0.8 + 0.5 * no_mask.item(), rel=1e-6
    )
    # an empty mask gives a depth term of 0, not NaN
    assert losses.liveness_score(p_live, fusion, torch.zeros_like(mask), beta=0.9).item() == pytest.approx(
        0.72
    )
