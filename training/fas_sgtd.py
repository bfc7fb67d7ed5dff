"""FAS-SGTD: multi-frame face anti-spoofing with spatial gradients and temporal depth.

Wang et al., "Exploiting temporal and depth information for multi-frame face anti-spoofing" (arXiv
1811.05118) and its CVPR 2020 successor "Deep Spatial Gradient and Temporal Depth Learning for Face
Anti-spoofing" (FAS-SGTD). Layer layout from the authors' public code as written down in
``shared/design/reference-notes.md``::

    frames [B, Nf, 3, H, W]
      └─ SingleFrameBackbone (per frame, shared)       RSGB stem, 3 x (3 RSGB + max-pool), multi-level
         │   F_1, F_2, F_3 (pre-pool block outputs)    resize + concat, RSGB head -> D_single (Eq. 3/4)
         │   D_single(t)  [d x d], d = H / 8
      └─ STPM (Spatio-Temporal Propagation Module)
         ├─ STSTB: short-term spatio-temporal block (the arXiv paper's OFF block, Sec. 3.3.1), one
         │   STSTBLevel per feature level on the Nf-1 consecutive pairs (t, t+1), then level fusion
         └─ two stacked ConvGRUCell (Eq. 9) recurring over the Nf-1 pairs IN TIME ORDER -> D_multi(t)
      └─ Eq. 10  D_fusion(t) = alpha * D_single(t) + (1 - alpha) * D_multi(t),  t = 0 .. Nf-2
      └─ BinaryHead f_cs: concat_t D_fusion(t) -> FC 64 -> (leaky) ReLU -> FC 2 (softmax once, in p_live)
      └─ Eq. 18  score = beta * p_live + (1 - beta) * mean_t masked-mean(D_fusion(t))

Pair ``t`` is frames ``(t, t+1)`` of the clip; like Eq. 10's ``D_single(t)`` it is aligned with the EARLIER
frame ``t``, so the depth labels / masks of the fused maps are ``depth[:, :-1]`` / ``masks[:, :-1]``.

Two deliberate differences from the authors' public TensorFlow code (bugs there, see the notes):
the ConvGRU recurs over time (their ``time_major=True`` on ``[batch, time, ...]`` tensors made it recur over
the batch), and softmax is applied once (in ``p_live``), not twice.

Streaming: :meth:`FASSGTD.encode` is the per-frame part (cache its outputs per frame) and
:meth:`FASSGTD.temporal` the per-window part; ``forward == temporal(encode(each frame))`` exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import GreyWorld, InputStandardisation, SobelGradient, conv_bn_relu, resize_square
from .losses import liveness_score

# SobelGradient, InputStandardisation and GreyWorld live in blocks.py; importable from here too.

__all__ = [
    "SGTDConfig",
    "SGTDOutput",
    "SobelGradient",
    "InputStandardisation",
    "GreyWorld",
    "RSGB",
    "SingleFrameBackbone",
    "STSTBLevel",
    "STSTB",
    "ConvGRUCell",
    "STPM",
    "BinaryHead",
    "FASSGTD",
]


# --------------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------------


INPUT_NORMS = ("fixed", "instance", "grey_world")
# livenessapp.face.CROP_BORDERS (not imported: it loads MediaPipe); a test checks that the two agree.
CROP_BORDERS = ("black", "reflect")


@dataclass
class SGTDConfig:
    """Everything that defines the network (and how its input is made). ``depth_size = input_size // 8``.

    Table 4 ablation variants of the arXiv paper (OULU-NPU P1):

    ==========  ===========  =========  ===========  ==========
    Model       multi_frame  use_ststb  use_convgru  use_binary
    ==========  ===========  =========  ===========  ==========
    1           False        -          -            -
    2* / 2      True         True       False        False/True
    3* / 3      True         False      True         False/True
    4* / 4      True         True       True         False/True
    ==========  ===========  =========  ===========  ==========

    ``use_contrastive=False`` is Table 5's Model 1* (Euclidean depth loss only).
    """

    input_size: int = 256
    stem: int = 64
    widths: tuple = (128, 192, 128)  # the three RSGBs of each of the three blocks
    head: tuple = (128, 64)  # the two RSGBs of the depth head (then conv3x3 -> 1 + depth_activation)
    # The paper ends the depth head with a ReLU. Trained with AdamW on our data that ReLU died (every
    # pre-activation negative -> all-zero maps and zero gradient for good: half the targets are all-zero
    # spoof maps). A sigmoid keeps the label range [0, 1] and always passes a gradient. "relu" = the paper.
    depth_activation: str = "sigmoid"
    # The paper's binary head is FC 64 -> ReLU -> FC 2. Its input, the fused depth maps, is all positive and
    # nearly the same for every clip until the STPM has learnt something; Adam then moves the 1024 weights of
    # a unit together and a few steps push every unit below zero for every input: the head outputs its bias
    # alone and no cross-entropy gradient ever reaches the STPM again (measured: all 64 units dead after a
    # motion_only stage 2, stage-2 CE at chance for 1500 steps). A leaky ReLU (slope 0.1) cannot die.
    # "relu" = the paper; checkpoints saved before this option existed load as "relu".
    binary_activation: str = "leaky_relu"
    # "fixed": the paper's fixed pixel normalisation ``(x - mean) / std`` only. "instance": each crop is then
    # standardised per colour channel (zero mean, unit variance over its pixels) inside the network, so the
    # output is invariant to a per-channel gain and offset: exposure, white balance / colour of the light,
    # black level and contrast. Why, and what it cost when measured: :class:`InputStandardisation`.
    # "grey_world": each colour channel of a crop is divided by its mean (von Kries / grey-world white
    # balance) inside the network: invariant to exposure and to the colour of the light, but the ratios
    # within a channel (contrast, black level against white) are kept: :class:`GreyWorld`.
    input_norm: str = "fixed"
    ststb_compress: int = 32
    ststb_out: int = 128
    gru_hidden: int = 64
    num_frames: int = 5  # Nf
    frame_interval: int = 3
    alpha: float = 0.8  # Eq. 10
    beta: float = 0.9  # Eq. 15 / 18
    use_ststb: bool = True
    use_convgru: bool = True
    use_binary: bool = True
    multi_frame: bool = True
    use_contrastive: bool = True
    mean: float = 127.5
    std: float = 128.0
    crop_scale: float = 1.3
    # What fills the face crop outside the frame, in training and in the app (livenessapp.face.CROP_BORDERS):
    # "black" (the paper's zero padding, every model before this option) or "reflect" (the frame mirrored
    # about its edge), so a tight capture's fill is no attack cue: training/configs/lite-reflect.card.md.
    crop_border: str = "black"

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        self.head = tuple(int(w) for w in self.head)
        if self.depth_activation not in ("sigmoid", "relu"):
            raise ValueError(f"depth_activation must be 'sigmoid' or 'relu', got {self.depth_activation!r}")
        if self.binary_activation not in ("leaky_relu", "relu"):
            raise ValueError(
                f"binary_activation must be 'leaky_relu' or 'relu', got {self.binary_activation!r}"
            )
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {self.input_norm!r}")
        if self.crop_border not in CROP_BORDERS:
            raise ValueError(f"crop_border must be one of {CROP_BORDERS}, got {self.crop_border!r}")
        if self.input_size % 8:
            raise ValueError(f"input_size must be a multiple of 8, got {self.input_size}")
        if len(self.widths) != 3 or len(self.head) != 2:
            raise ValueError("widths needs 3 entries (RSGBs per block) and head 2")
        if self.num_frames < 2 and self.multi_frame:
            raise ValueError("a multi-frame model needs num_frames >= 2")
        if not 0.0 <= self.alpha <= 1.0 or not 0.0 <= self.beta <= 1.0:
            raise ValueError("alpha and beta must lie in [0, 1]")

    @property
    def depth_size(self) -> int:
        return self.input_size // 8

    @property
    def has_stpm(self) -> bool:
        return self.multi_frame and (self.use_ststb or self.use_convgru)

    @property
    def has_binary(self) -> bool:
        return self.multi_frame and self.use_binary

    @property
    def level_sizes(self) -> tuple[int, int, int]:
        """Spatial sizes of the pre-pool block outputs F_1, F_2, F_3 (input, 1/2, 1/4)."""
        s = self.input_size
        return (s, s // 2, s // 4)

    @classmethod
    def paper(cls, **overrides) -> SGTDConfig:
        """The published network: 256 px input, 32x32 depth, widths of the authors' code."""
        return cls(**overrides)

    @classmethod
    def lite(cls, **overrides) -> SGTDConfig:
        """CPU real-time variant: 128 px input, 16x16 depth, narrow widths (see ``report()``)."""
        base = dict(
            input_size=128,
            stem=16,
            widths=(16, 24, 16),
            head=(24, 16),
            ststb_compress=4,
            ststb_out=8,
            gru_hidden=16,
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def tiny(cls, **overrides) -> SGTDConfig:
        """For unit tests only: 32 px input, 4x4 depth, a handful of channels, Nf = 4 (3 pairs)."""
        base = dict(
            input_size=32,
            stem=4,
            widths=(4, 6, 4),
            head=(6, 4),
            ststb_compress=2,
            ststb_out=4,
            gru_hidden=3,
            num_frames=4,
        )
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"], d["head"] = list(self.widths), list(self.head)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SGTDConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SGTDConfig keys: {unknown}")
        d = dict(d)
        d.setdefault("binary_activation", "relu")  # saved before the option existed: the paper's ReLU
        return cls(**d)


class SGTDOutput(NamedTuple):
    """The network's outputs (``depth_multi`` is None without an STPM)."""

    depth_single: torch.Tensor  # [B, Nf, 1, d, d]
    depth_multi: torch.Tensor | None  # [B, Nf-1, 1, d, d]
    depth_fusion: torch.Tensor  # [B, Nf-1, 1, d, d]  Eq. 10
    logits: torch.Tensor  # [B, 2], index 1 = LIVE
    p_live: torch.Tensor  # [B]
    score: torch.Tensor  # [B]  Eq. 18


# --------------------------------------------------------------------------------------------------------
# The paper's blocks (the generic ones, Sobel filters, input normalisations, conv-BN-ReLU: blocks.py)
# --------------------------------------------------------------------------------------------------------


def input_normalisation(cfg: SGTDConfig) -> nn.Module:
    """The module ``cfg.input_norm`` names, applied to the fixed-normalised crops before the stem."""
    if cfg.input_norm == "instance":
        return InputStandardisation()
    if cfg.input_norm == "grey_world":
        return GreyWorld(cfg.mean, cfg.std)
    return nn.Identity()


class RSGB(nn.Module):
    """Residual Spatial Gradient Block: ``ReLU(BN(conv3x3(x) + BN(conv1x1(|grad x|))))``.

    No identity shortcut: the spatial-gradient branch is the residual (FAS-SGTD, Sec. 3.1 of the CVPR paper).
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False)
        self.sobel = SobelGradient(in_ch)
        self.grad_conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.grad_bn = nn.BatchNorm2d(out_ch)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x) + self.grad_bn(self.grad_conv(self.sobel(x)))))


class SingleFrameBackbone(nn.Module):
    """The single-frame part (Sec. 3.2.2): RSGB stem; three blocks of three RSGBs, each followed by a 2x2
    max-pool; the pooled outputs resized (bilinear) to ``d x d`` and concatenated; RSGB head ->
    conv3x3 -> 1 + ReLU = ``D_single``. Returns the pre-pool block outputs ``F_1..F_3`` (the STSTB's
    input) and ``D_single``."""

    def __init__(self, cfg: SGTDConfig):
        super().__init__()
        self.depth_size = cfg.depth_size
        self.pooled_sizes = tuple(n // 2 for n in cfg.level_sizes)  # the last one is depth_size
        w = cfg.widths
        self.standardise = input_normalisation(cfg)
        self.stem = RSGB(3, cfg.stem)
        blocks = []
        in_ch = cfg.stem
        for _ in range(3):
            blocks.append(nn.Sequential(RSGB(in_ch, w[0]), RSGB(w[0], w[1]), RSGB(w[1], w[2])))
            in_ch = w[2]
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(
            RSGB(3 * w[2], cfg.head[0]),
            RSGB(cfg.head[0], cfg.head[1]),
            nn.Conv2d(cfg.head[1], 1, 3, padding=1),
            nn.Sigmoid() if cfg.depth_activation == "sigmoid" else nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        x = self.stem(self.standardise(x))
        feats, pooled = [], []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
            x = self.pool(x)
            pooled.append(x)
        d = self.depth_size
        multi = torch.cat(
            [resize_square(p, d, n) for p, n in zip(pooled, self.pooled_sizes, strict=True)], dim=1
        )
        return tuple(feats), self.head(multi)


class STSTBLevel(nn.Module):
    """One level of the short-term spatio-temporal block (the arXiv paper's OFF block, Fig. 6).

    For a pair ``(F_l(t), F_l(t+1))``: compress both with 1x1 conv + BN + ReLU to ``c`` channels; Sobel x / y
    of the compressed maps at ``t`` and ``t+1`` (spatial gradients ``FS_l``); temporal gradient
    ``FT_l = C(t+1) - C(t)``; concat ``[F_l(t), Sx(t), Sy(t), Sx(t+1), Sy(t+1), FT_l]`` (``in + 5c``
    channels, 288 in the paper) -> conv3x3 -> ``out`` + ReLU -> 2x2 max-pool.

    ``compress`` is per frame; :meth:`forward` takes the compressed maps already so that each frame of a
    window is compressed once, not twice.
    """

    def __init__(self, in_ch: int, compress: int, out_ch: int):
        super().__init__()
        self.compress = conv_bn_relu(in_ch, compress, k=1)
        self.sobel = SobelGradient(compress)
        self.conv = nn.Conv2d(in_ch + 5 * compress, out_ch, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)

    def forward(self, f_t: torch.Tensor, c_t: torch.Tensor, c_next: torch.Tensor) -> torch.Tensor:
        sx_t, sy_t = self.sobel.components(c_t)
        sx_n, sy_n = self.sobel.components(c_next)
        off = torch.cat([f_t, sx_t, sy_t, sx_n, sy_n, c_next - c_t], dim=1)
        return self.pool(self.act(self.conv(off)))


class STSTB(nn.Module):
    """Short-term spatio-temporal block over the three feature levels, with level fusion (notes):
    level-1 output resized to level 2's size, concat, conv3x3 + BN (+ ReLU); the same into level 3; then
    conv3x3 + BN (+ ReLU) at ``d x d``. Input: per level the features of all Nf frames ``[B*Nf, C, h, w]``
    (time-major inside each clip); output: ``[B*(Nf-1), out, d, d]``, one map per consecutive pair."""

    def __init__(self, cfg: SGTDConfig):
        super().__init__()
        c_in, c, o = cfg.widths[2], cfg.ststb_compress, cfg.ststb_out
        self.num_frames = cfg.num_frames
        self.levels = nn.ModuleList([STSTBLevel(c_in, c, o) for _ in range(3)])
        self.fuse = nn.ModuleList([conv_bn_relu(2 * o, o), conv_bn_relu(2 * o, o)])
        self.out = conv_bn_relu(o, o)
        s = cfg.level_sizes
        self.out_sizes = (s[0] // 2, s[1] // 2, s[2] // 2)  # after each level's max-pool; the last is d

    def _pairs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B*Nf, ...]`` -> (frames t, frames t+1), each ``[B*(Nf-1), ...]``, pairs time-major per clip."""
        nf = self.num_frames
        x = x.unflatten(0, (-1, nf))
        return x[:, :-1].flatten(0, 1), x[:, 1:].flatten(0, 1)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        outs = []
        for level, f in zip(self.levels, feats, strict=True):
            c = level.compress(f)  # once per frame
            f_t, _ = self._pairs(f)
            c_t, c_next = self._pairs(c)
            outs.append(level(f_t, c_t, c_next))
        x = outs[0]
        for i, fuse in enumerate(self.fuse):
            x = fuse(
                torch.cat([resize_square(x, self.out_sizes[i + 1], self.out_sizes[i]), outs[i + 1]], dim=1)
            )
        return self.out(x)


class PairFeatures(nn.Module):
    """Input of the ConvGRU when there is no STSTB (Table 4, Model 3): the two frames' pooled multi-level
    features at ``d x d`` concatenated -> conv3x3 + BN + ReLU. No spatial / temporal gradients."""

    def __init__(self, cfg: SGTDConfig):
        super().__init__()
        self.num_frames, self.depth_size = cfg.num_frames, cfg.depth_size
        self.pooled_sizes = tuple(n // 2 for n in cfg.level_sizes)
        self.pool = nn.MaxPool2d(2)
        self.proj = conv_bn_relu(2 * 3 * cfg.widths[2], cfg.ststb_out)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        pooled = [
            resize_square(self.pool(f), self.depth_size, n)
            for f, n in zip(feats, self.pooled_sizes, strict=True)
        ]
        x = torch.cat(pooled, dim=1).unflatten(0, (-1, self.num_frames))
        return self.proj(torch.cat([x[:, :-1], x[:, 1:]], dim=2).flatten(0, 1))


class ConvGRUCell(nn.Module):
    """Convolutional GRU, Eq. 9 of arXiv 1811.05118::

        R_t = sigmoid(K_r * [H_{t-1}, X_t])
        U_t = sigmoid(K_u * [H_{t-1}, X_t])
        H^_t = tanh(K_h * [R_t o H_{t-1}, X_t])
        H_t = (1 - U_t) o H_{t-1} + U_t o H^_t

    ``K_r``/``K_u`` share one conv (``2 * hidden`` outputs); gate biases start at 1.
    """

    def __init__(self, in_ch: int, hidden: int, kernel_size: int = 3):
        super().__init__()
        self.hidden = hidden
        self.padding = p = kernel_size // 2
        self.gates = nn.Conv2d(hidden + in_ch, 2 * hidden, kernel_size, padding=p)
        self.candidate = nn.Conv2d(hidden + in_ch, hidden, kernel_size, padding=p)
        nn.init.constant_(self.gates.bias, 1.0)
        nn.init.zeros_(self.candidate.bias)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step; ``h=None`` is ``H_0 = 0``, computed exactly with the X-part of the kernels alone (no
        zero tensor: keeps the batch size symbolic in exported graphs)."""
        if h is None:
            k = self.hidden
            _, u = torch.sigmoid(
                F.conv2d(x, self.gates.weight[:, k:], self.gates.bias, padding=self.padding)
            ).chunk(2, 1)
            return u * torch.tanh(
                F.conv2d(x, self.candidate.weight[:, k:], self.candidate.bias, padding=self.padding)
            )
        r, u = torch.sigmoid(self.gates(torch.cat([h, x], dim=1))).chunk(2, dim=1)
        h_hat = torch.tanh(self.candidate(torch.cat([r * h, x], dim=1)))
        return (1.0 - u) * h + u * h_hat


class STPM(nn.Module):
    """Spatio-Temporal Propagation Module: STSTB on the Nf-1 consecutive pairs (short-term motion), then two
    stacked ConvGRUs (hidden ``gru_hidden``, then 1) recurring over the pairs in time order (long-term
    motion); the second GRU's hidden state is ``D_multi(t)`` (Eq. 9). Without the ConvGRU (Model 2) a
    conv3x3 -> 1 regresses ``D_multi(t)`` from each pair; without the STSTB (Model 3) the GRU input is
    :class:`PairFeatures`."""

    def __init__(self, cfg: SGTDConfig):
        super().__init__()
        self.num_pairs = cfg.num_frames - 1
        self.ststb = STSTB(cfg) if cfg.use_ststb else PairFeatures(cfg)
        if cfg.use_convgru:
            self.gru1 = ConvGRUCell(cfg.ststb_out, cfg.gru_hidden)
            self.gru2 = ConvGRUCell(cfg.gru_hidden, 1)
            self.regress = None
        else:
            self.gru1 = self.gru2 = None
            self.regress = nn.Conv2d(cfg.ststb_out, 1, 3, padding=1)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``feats`` per level ``[B*Nf, C, h, w]`` -> ``D_multi`` ``[B, Nf-1, 1, d, d]``."""
        x = self.ststb(feats).unflatten(0, (-1, self.num_pairs))  # [B, Nf-1, C, d, d]
        if self.regress is not None:
            return self.regress(x.flatten(0, 1)).unflatten(0, (-1, self.num_pairs))
        h1 = h2 = None
        out = []
        for t in range(self.num_pairs):  # time order; the batch axis is never the recurrence axis
            h1 = self.gru1(x[:, t], h1)
            h2 = self.gru2(h1, h2)
            out.append(h2)
        return torch.stack(out, dim=1)


class BinaryHead(nn.Module):
    """``f_cs`` of Eq. 14: the concatenated fused depth maps of the Nf-1 pairs -> FC 64 -> ReLU -> FC 2
    (a leaky ReLU by default: ``SGTDConfig.binary_activation`` says why). Returns logits (index 1 = LIVE);
    the single softmax is taken in ``p_live``."""

    def __init__(self, cfg: SGTDConfig, hidden: int = 64):
        super().__init__()
        self.fc1 = nn.Linear((cfg.num_frames - 1) * cfg.depth_size**2, hidden)
        self.act = (
            nn.LeakyReLU(0.1, inplace=True)
            if cfg.binary_activation == "leaky_relu"
            else nn.ReLU(inplace=True)
        )
        self.fc2 = nn.Linear(hidden, 2)

    def forward(self, depth_fusion: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(depth_fusion.flatten(1))))


# --------------------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------------------


class FASSGTD(nn.Module):
    """FAS-SGTD (see the module docstring). ``forward(frames, masks)`` -> :class:`SGTDOutput`.

    Without a binary head (``use_binary=False`` or a single-frame model) the logits are zeros, so
    ``p_live = 0.5`` and Eq. 18 stays as written: the score is then an increasing affine function of the
    depth term. A single-frame model (Model 1) fuses nothing: ``D_fusion(t) = D_single(t)``.
    """

    def __init__(self, cfg: SGTDConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or SGTDConfig()
        self.backbone = SingleFrameBackbone(cfg)
        self.stpm = STPM(cfg) if cfg.has_stpm else None
        self.binary = BinaryHead(cfg) if cfg.has_binary else None
        self._backbone_frozen = False

    # -- the two stages ----------------------------------------------------------------------------------

    def freeze_backbone(self) -> None:
        """Stage 2: the single-frame part's parameters stop learning and its BatchNorm layers stay in eval
        mode (running statistics frozen), also across later ``.train()`` calls."""
        self._backbone_frozen = True
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.backbone.eval()

    def unfreeze_backbone(self) -> None:
        self._backbone_frozen = False
        for p in self.backbone.parameters():
            p.requires_grad_(True)
        self.backbone.train(self.training)

    @property
    def backbone_frozen(self) -> bool:
        return self._backbone_frozen

    def train(self, mode: bool = True) -> FASSGTD:
        super().train(mode)
        if self._backbone_frozen:
            self.backbone.eval()
        return self

    def single_frame_parameters(self) -> Iterator[nn.Parameter]:
        return self.backbone.parameters()

    def multi_frame_parameters(self) -> Iterator[nn.Parameter]:
        for module in (self.stpm, self.binary):
            if module is not None:
                yield from module.parameters()

    def parameter_groups(self, stage: int) -> list[dict]:
        """Optimizer parameter groups: stage 1 = the single-frame part; stage 2 = STPM and binary head
        (the binary head only when it is supervised)."""
        if stage == 1:
            return [{"name": "single_frame", "params": list(self.backbone.parameters())}]
        if stage != 2:
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        groups = []
        if self.stpm is not None:
            groups.append({"name": "stpm", "params": list(self.stpm.parameters())})
        if self.binary is not None:
            groups.append({"name": "binary_head", "params": list(self.binary.parameters())})
        return groups

    # -- inference -----------------------------------------------------------------------------------------

    def encode(self, images: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Per frame: ``images [B, 3, H, W]`` -> ``((F_1, F_2, F_3), D_single [B, 1, d, d])``."""
        return self.backbone(images)

    def temporal(
        self,
        feats: tuple[torch.Tensor, ...] | list[torch.Tensor],
        depth_single: torch.Tensor,
        masks: torch.Tensor | None = None,
    ) -> SGTDOutput:
        """Per window: per-level features stacked over time ``[B, Nf, C, h, w]``, ``D_single [B, Nf, 1, d, d]``
        and face masks ``[B, Nf, 1, d, d]`` (None = all ones) -> :class:`SGTDOutput`."""
        cfg = self.cfg
        d_single_t = depth_single[:, :-1]  # Eq. 10's D_single(t) for pair (t, t+1)
        if self.stpm is not None:
            depth_multi = self.stpm(tuple(f.flatten(0, 1) for f in feats))
            depth_fusion = cfg.alpha * d_single_t + (1.0 - cfg.alpha) * depth_multi  # Eq. 10
        else:
            depth_multi, depth_fusion = None, d_single_t
        if self.binary is not None:
            logits = self.binary(depth_fusion)
        else:
            # uninformative logits (p_live = 0.5); a product, not new_zeros, so that exported graphs keep the
            # batch size symbolic
            logits = depth_fusion.flatten(1)[:, :1].repeat(1, 2) * 0.0
        p_live = torch.softmax(logits, dim=1)[:, 1]  # the one softmax
        mask = masks[:, :-1] if masks is not None else None
        score = liveness_score(p_live, depth_fusion, mask, cfg.beta)  # Eq. 18
        return SGTDOutput(depth_single, depth_multi, depth_fusion, logits, p_live, score)

    def forward(self, frames: torch.Tensor, masks: torch.Tensor | None = None) -> SGTDOutput:
        """``frames [B, Nf, 3, H, W]`` (normalised RGB), ``masks [B, Nf, 1, d, d]`` or None."""
        nf = frames.shape[1]
        feats, depth_single = self.encode(frames.flatten(0, 1))
        feats = tuple(f.unflatten(0, (-1, nf)) for f in feats)
        return self.temporal(feats, depth_single.unflatten(0, (-1, nf)), masks)
