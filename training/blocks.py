"""Building blocks of the FAS-SGTD network (:mod:`livenessapp_training.fas_sgtd`) that are not its own:
fixed Sobel gradients, the optional input normalisations, conv + BN + ReLU and a square bilinear resize."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GreyWorld",
    "InputStandardisation",
    "SobelGradient",
    "conv_bn_relu",
    "resize_square",
]

SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
SOBEL_Y = ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0))


class SobelGradient(nn.Module):
    """Fixed (not learned) depthwise Sobel filters, zero padding.

    ``forward(x)`` -> the gradient magnitude ``sqrt(gx^2 + gy^2 + 1e-8)`` per channel;
    ``components(x)`` -> ``(gx, gy)``. Cross-correlation with Sx / Sy as written in the notes.
    """

    def __init__(self, channels: int, eps: float = 1e-8):
        super().__init__()
        self.channels, self.eps = int(channels), float(eps)
        sx = torch.tensor(SOBEL_X, dtype=torch.float32).expand(self.channels, 1, 3, 3).clone()
        sy = torch.tensor(SOBEL_Y, dtype=torch.float32).expand(self.channels, 1, 3, 3).clone()
        self.register_buffer("weight_x", sx, persistent=False)  # [C, 1, 3, 3] depthwise
        self.register_buffer("weight_y", sy, persistent=False)

    def components(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gx = F.conv2d(x, self.weight_x, padding=1, groups=self.channels)
        gy = F.conv2d(x, self.weight_y, padding=1, groups=self.channels)
        return gx, gy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx, gy = self.components(x)
        return torch.sqrt(gx * gx + gy * gy + self.eps)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class InputStandardisation(nn.Module):
    """Per-crop, per-channel standardisation ``(x - mean_c) / sqrt(var_c + eps)`` over each image's pixels
    (``input_norm="instance"``; not in the papers).

    A gain and offset per colour channel — the camera's exposure and white balance, the colour and strength
    of the light, black level, contrast — cancel (exactly but for ``eps``), so they are no cue: in the
    simulator, screens are bluish and prints dimmer, and a network fed fixed-normalised pixels learnt "cool or
    dark = attack", which rejects live faces under a cool, dim light it never saw. What is left are the cues
    that survive any exposure: texture (halftone, moiré, blur, banding), shading within the face, edges and
    motion. The price, measured with the bundled recipe on clips rendered before the simulator's cameras had
    auto exposure / white balance: the contrast, black-level and colour cues of prints and screens go too,
    and that model separated live from attack worse (dev EER 20.3 % vs 9.4 %; the "fixed" model bundled then
    accepted 63 % of the live test videos, 39 % after a 13 % darker exposure). ``eps``
    (on the fixed-normalised scale, about 4 grey levels of std) keeps a flat crop from being amplified into
    noise. The app needs nothing: the standardisation is part of the exported graph, and it
    does not depend on the fixed normalisation in front of it."""

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class GreyWorld(nn.Module):
    """Per-crop, per-channel gain normalisation ``x_c * target / mean_c(x)`` on the camera's pixel scale
    (``input_norm="grey_world"``; not in the papers): the grey-world assumption of colour constancy.

    A gain per colour channel — exposure, the camera's white balance, the colour and strength of the light —
    cancels (exactly, unless a channel's mean falls below ``floor`` grey levels), as with
    :class:`InputStandardisation`; unlike it, an offset does not: a print's raised black and lowered white,
    a screen's black level and contrast change the ratios within a channel, and those survive. The input is
    the fixed-normalised crop ``(x - mean) / std``; the output is on the same scale, each channel's mean
    moved to ``target`` grey levels (127.5: zero after the fixed normalisation). Measured with the bundled
    recipe on the same earlier clips it separated live from attack worse than the fixed normalisation (dev
    EER 20.3 % vs 9.4 %, test ACER 34.4 % vs 21.4 %): not used by the bundled model."""

    def __init__(self, mean: float, std: float, target: float = 127.5, floor: float = 4.0):
        super().__init__()
        self.mean, self.std, self.target, self.floor = float(mean), float(std), float(target), float(floor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x * self.std + self.mean
        channel_mean = pixels.mean(dim=(2, 3), keepdim=True).clamp_min(self.floor)
        return (pixels * (self.target / channel_mean) - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}, target={self.target}, floor={self.floor}"


def resize_square(x: torch.Tensor, size: int, from_size: int) -> torch.Tensor:
    """Bilinear resize of a square map from ``from_size`` to ``size`` (sizes from the config, so that the
    exported graph holds constants, not shape arithmetic)."""
    if from_size == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def conv_bn_relu(in_ch: int, out_ch: int, k: int = 3) -> nn.Sequential:
    """``conv k x k`` (no bias) -> BatchNorm -> ReLU, same padding."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, k, padding=k // 2, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)
    )
