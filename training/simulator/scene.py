"""Scenes, cameras and clips: live heads, print attacks and replay attacks under one pinhole camera.

Scene model (appendix Sec. 1, Fig. 1):

- **live**: the textured 3-D head (:mod:`.head`) moves rigidly in front of a far background plane; every
  surface point moves on the image by ``f dx / z`` with its own depth ``z`` (Eq. 2-3), so the landmark
  motion between frames is *not* one homography once the head rotates.
- **print** (``print_flat`` / ``print_bent``): a still render of the head, printed (ink gamut, paper white,
  halftone, blur), is a plane (or a cylinder-bent sheet) held in the hand: it moves and rotates over time.
  A flat print moves by exactly one homography per frame (relative depth 0, Eq. 11-12).
- **replay** (``replay_moving`` / ``replay_still``): a live clip recorded by another camera (f_a, z_a) is shown
  on a screen (tone curve, colour cast, pixel-grid moiré, glare, banding, bezel) whose plane moves by
  ``dv`` and rotates by ``theta`` (Eq. 8-10, Eq. 17-23); ``replay_still`` is the paper's *Perfect Spoofing
  Scene* (screen parallel to the image plane, no motion, static camera; Eq. 13), counted separately.
- every capturing camera (the one filming the scene, and the attacker's recording camera of a replay) runs
  auto exposure and grey-world auto white balance (:class:`CameraLook`), so the room light's level and colour
  are mostly normalised away for every class alike, as a webcam does.
- ``motion_only`` protocol: print and screen carry no texture artifact at all (same render quality, no
  gamut / halftone / moiré / glare / bezel / edges, no paper shading): only the geometry over time differs.
  It plans no ``replay_still``: without texture, the Perfect Spoofing Scene is by construction the footage a
  still camera takes of the live head (Eq. 13), which no model can tell apart (``pai="replay_still"`` still
  renders it).

Splits mimic the OULU-NPU protocols (see :func:`plan_clip`): the test split has unseen identity morphs,
unseen backgrounds, an unseen lighting preset and an unseen camera (dev likewise, disjoint from both).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .carriers import (
    PrintLook,
    ScreenLook,
    add_border,
    apply_moire,
    apply_print,
    apply_screen,
    bent_sheet,
    sheet_point_weights,
)
from .geometry import (
    PinholeCamera,
    Pose,
    composite,
    ease_turn,
    plane_corners,
    plane_depth,
    render_plane,
    smooth_track,
)
from .head import HeadModel, Identity, render_mesh

__all__ = [
    "BACKGROUNDS",
    "CAMERAS",
    "DEFAULT_PHOTOS",
    "LIGHTS",
    "PAIS",
    "ClipSpec",
    "SimFrame",
    "iter_clip",
    "plan_clip",
]

FPS = 30
DEFAULT_PHOTOS = ("grace_hopper", "astronaut")
PAIS = ("live", "print_flat", "print_bent", "replay_moving", "replay_still")
SPLITS = ("train", "dev", "test")
# Scenes (background texture x lighting preset) and cameras are disjoint between the splits.
BACKGROUNDS = {
    "train": (
        "brick",
        "grass",
        "gravel",
        "rocket",
        "coins",
        "page",
        "immunohistochemistry",
        "hubble_deep_field",
        "cell",
        "motorcycle",
    ),
    "dev": ("moon", "clock", "chelsea"),
    "test": ("coffee", "text", "horse", "colorwheel"),
}
LIGHTS = {"train": (0, 1, 2, 3), "dev": (4,), "test": (5,)}
CAMERAS = {"train": ("cam0", "cam1", "cam2", "cam3"), "dev": ("cam4",), "test": ("cam5",)}
MORPH_RESIDUES = {"train": (0, 1, 2, 3, 4, 5), "dev": (6, 7), "test": (8, 9)}
_DEG = np.pi / 180


@dataclass(frozen=True)
class LightPreset:
    ambient: tuple[float, float]
    azimuth: tuple[float, float]  # degrees, + = light on the camera's right
    elevation: tuple[float, float]  # degrees, + = light above
    warmth: tuple[float, float]  # red / blue gain ratio of the light
    exposure: tuple[float, float]


LIGHT_PRESETS = (
    LightPreset((0.6, 0.75), (-15, 15), (10, 30), (0.97, 1.05), (0.95, 1.1)),  # frontal soft
    LightPreset((0.4, 0.55), (-60, -30), (0, 25), (0.95, 1.05), (0.9, 1.1)),  # side left
    LightPreset((0.4, 0.55), (30, 60), (0, 25), (0.95, 1.05), (0.9, 1.1)),  # side right
    LightPreset((0.45, 0.6), (-20, 20), (35, 60), (0.95, 1.08), (0.9, 1.05)),  # overhead
    LightPreset((0.45, 0.6), (-45, 45), (10, 40), (1.1, 1.2), (0.85, 1.0)),  # warm lamp (dev)
    LightPreset((0.35, 0.7), (-70, 70), (-10, 50), (0.85, 0.95), (0.8, 1.15)),  # cool mixed (test)
)


@dataclass(frozen=True)
class CameraPreset:
    hfov: tuple[float, float]
    noise: tuple[float, float]
    blur: tuple[float, float]
    jpeg: tuple[int, int]


CAMERA_PRESETS = {
    "cam0": CameraPreset((55, 65), (0.008, 0.018), (0.3, 0.8), (70, 90)),  # webcam
    "cam1": CameraPreset((65, 75), (0.004, 0.012), (0.0, 0.4), (80, 95)),  # phone front camera
    "cam2": CameraPreset((55, 65), (0.018, 0.032), (0.5, 1.0), (60, 80)),  # laptop, low light
    "cam3": CameraPreset((45, 55), (0.006, 0.012), (0.2, 0.6), (75, 92)),  # narrow webcam
    "cam4": CameraPreset((60, 70), (0.010, 0.024), (0.3, 0.7), (65, 88)),  # dev
    "cam5": CameraPreset((50, 72), (0.006, 0.030), (0.1, 0.9), (60, 92)),  # test
}


# ----------------------------------------------------------------------------------------------------------
# Clip planning (cheap: no rendering) — identities, scenes, splits, seeds
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one clip; ``manifest()`` is its manifest.jsonl line (the contract's keys)."""

    index: int
    seed: int
    label: str
    attack: str
    pai: str
    identity: Identity
    scene: str
    camera: str
    split: str
    protocol: str
    frames: int
    width: int
    height: int
    framing: str  # "edges" (carrier edges / bezel in view) or "full" (carrier fills the view) or "-" (live)

    @property
    def clip_id(self) -> str:
        return f"{self.protocol}-{self.index:06d}-{self.pai}"

    def manifest(self) -> dict:
        return {
            "clip_id": self.clip_id,
            "path": f"videos/{self.clip_id}.mp4",
            "label": self.label,
            "attack": self.attack,
            "pai": self.pai,
            "identity": self.identity.name,
            "scene": self.scene,
            "camera": self.camera,
            "split": self.split,
            "protocol": self.protocol,
            "seed": int(self.seed),
            "frames": int(self.frames),
            "fps": FPS,
            "width": int(self.width),
            "height": int(self.height),
            "face_photo": self.identity.photo,
            "framing": self.framing,
        }


def clip_seed(seed: int, index: int) -> int:
    """Per-clip seed derived from the global seed and the clip index."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _photo_split(photo: str) -> str:
    r = zlib.crc32(photo.encode()) % 10
    return "train" if r < 6 else ("dev" if r < 8 else "test")


def plan_clip(
    index: int,
    seed: int = 0,
    protocol: str = "normal",
    frames: int = 90,
    size: tuple[int, int] = (480, 360),
    photos: Sequence[str] = DEFAULT_PHOTOS,
    pai: str | None = None,
    split: str | None = None,
) -> ClipSpec:
    """Plan clip ``index``. Clips come in groups of 4 sharing one synthetic identity and one scene (like an
    OULU-NPU session): live, print, replay, live (so 50 % live; prints 60 % flat / 40 % bent; replays
    75 % moving / 25 % still, all moving in ``motion_only``, see below). The group's split is drawn
    60/20/20; the identity's morph seed, the scene (background x lighting) and the camera come from pools
    disjoint between splits, and with >= 5 photos the photos themselves are split by a hash of their name
    (else all photos are shared and the identity morph / tone / mirror make the identities)."""
    if protocol not in ("normal", "motion_only"):
        raise ValueError(f"unknown protocol {protocol!r}")
    group, slot = divmod(int(index), 4)
    g = np.random.default_rng([int(seed), 1, group])
    u = g.random()
    split = split or ("train" if u < 0.6 else ("dev" if u < 0.8 else "test"))
    pool = [p for p in photos if _photo_split(p) == split] if len(photos) >= 5 else list(photos)
    pool = pool or list(photos)
    identity = Identity(
        photo=str(pool[g.integers(len(pool))]),
        mirror=bool(g.random() < 0.5),
        morph_seed=int(10 * g.integers(0, 5000) + g.choice(MORPH_RESIDUES[split])),
        tone_seed=int(g.integers(0, 100000)),
    )
    scene = f"{g.choice(BACKGROUNDS[split])}-L{g.choice(LIGHTS[split])}"
    camera = str(g.choice(CAMERAS[split]))
    c = np.random.default_rng([int(seed), 2, int(index)])
    if pai is None:
        kind = ("live", "print", "replay", "live")[slot]
        if kind == "print":
            pai = "print_flat" if c.random() < 0.6 else "print_bent"
        elif kind == "replay":
            moving = c.random() < 0.75
            # No Perfect Spoofing Scene in motion_only: with no texture cue, a still screen parallel to the
            # image plane filmed by a still camera shows what a still camera filming the live head shows
            # (Eq. 13), so every such clip would be a live clip labelled spoof (label noise in training,
            # 100 % APCER for any model in test). The normal protocol keeps them: the screen's texture gives
            # them away there.
            pai = "replay_moving" if moving or protocol == "motion_only" else "replay_still"
        else:
            pai = "live"
    if pai not in PAIS:
        raise ValueError(f"unknown pai {pai!r}")
    attack = "none" if pai == "live" else pai.split("_")[0]
    if attack == "none":
        framing = "-"
    elif protocol == "motion_only":
        framing = "full"
    else:
        framing = "full" if c.random() < 0.35 else "edges"
    return ClipSpec(
        index=int(index),
        seed=clip_seed(seed, index),
        label="live" if attack == "none" else "spoof",
        attack=attack,
        pai=pai,
        identity=identity,
        scene=scene,
        camera=camera,
        split=split,
        protocol=protocol,
        frames=int(frames),
        width=int(size[0]),
        height=int(size[1]),
        framing=framing,
    )


# ----------------------------------------------------------------------------------------------------------
# Scene look: background plane, light, camera ego-motion, camera pipeline
# ----------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _background_image(name: str) -> np.ndarray:
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    img = img[..., :3].astype(np.float32)
    img /= max(float(img.max()), 1.0)
    return np.ascontiguousarray(img[..., ::-1])  # RGB -> BGR


@dataclass
class SceneLook:
    """One realised scene: background texture on a far plane, a moving light, camera ego-motion."""

    background: np.ndarray  # opaque BGR texture
    bg_depth: float
    bg_scale: float
    light: np.ndarray  # (n, 3) unit directions towards the light (camera coordinates)
    ambient: float
    light_gain: np.ndarray  # BGR gains of the light colour
    exposure: float
    ego: list[Pose]  # world -> camera per frame

    @classmethod
    def make(
        cls, name: str, camera: PinholeCamera, rng: np.random.Generator, n: int, ego_motion: bool = True
    ) -> SceneLook:
        bg_name, light_name = name.rsplit("-L", 1)
        preset = LIGHT_PRESETS[int(light_name)]
        src = _background_image(bg_name)
        if src.std() < 1e-3 or bg_name in ("coins", "page", "text", "moon", "clock", "horse", "cell"):
            src = src * rng.uniform(0.5, 1.0, 3).astype(np.float32)  # tint grey textures
        sh, sw = src.shape[:2]
        scale = 1.3
        tw, th = int(camera.width * scale), int(camera.height * scale)
        frac = rng.uniform(0.4, 1.0)
        cw = min(sw, int(sh * tw / th)) * frac
        ch = cw * th / tw
        x0 = rng.uniform(0, sw - cw)
        y0 = rng.uniform(0, sh - ch)
        crop = src[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        tex = cv2.resize(np.ascontiguousarray(crop), (tw, th), interpolation=cv2.INTER_AREA)
        tex = cv2.GaussianBlur(tex, (0, 0), rng.uniform(0.6, 2.5))  # out of focus behind the subject
        tex = np.clip(tex * rng.uniform(0.5, 1.0) + rng.uniform(0.0, 0.15), 0, 1)
        background = np.ascontiguousarray(tex, dtype=np.float32)  # opaque: BGR only
        az = rng.uniform(*preset.azimuth) + smooth_track(rng, n, 12.0, freq=(0.05, 0.3))
        el = rng.uniform(*preset.elevation) + smooth_track(rng, n, 6.0, freq=(0.05, 0.3))
        a, e = az * _DEG, el * _DEG
        light = np.stack([np.sin(a) * np.cos(e), -np.sin(e), -np.cos(a) * np.cos(e)], 1)
        warm = rng.uniform(*preset.warmth)
        gain = np.array([1 / warm, 1.0, warm], np.float32) ** 0.5
        if ego_motion:
            yaw, pitch, roll = (smooth_track(rng, n, a_, freq=(0.1, 0.8)) * _DEG for a_ in (0.8, 0.8, 0.6))
            tx, ty, tz = (smooth_track(rng, n, a_, freq=(0.1, 0.8)) for a_ in (0.006, 0.006, 0.008))
            ego = [Pose.from_euler(yaw[i], pitch[i], roll[i], (tx[i], ty[i], tz[i])) for i in range(n)]
        else:
            ego = [Pose.identity()] * n
        return cls(
            background=background,
            bg_depth=float(rng.uniform(1.2, 3.0)),
            bg_scale=scale,
            light=light,
            ambient=float(rng.uniform(*preset.ambient)),
            light_gain=gain,
            exposure=float(rng.uniform(*preset.exposure)),
            ego=ego,
        )

    def background_layer(self, camera: PinholeCamera, i: int) -> tuple[np.ndarray, np.ndarray]:
        w, h = camera.frustum_size(self.bg_depth)
        pose = self.ego[i].compose(Pose(np.eye(3), np.array([0.0, 0.0, self.bg_depth])))
        corners = plane_corners(w * self.bg_scale, h * self.bg_scale, pose)
        frame, _ = render_plane(self.background, corners, camera)
        frame *= self.light_gain  # the room's light falls on the background as on the face
        return frame, corners


@functools.lru_cache(maxsize=8)
def _noise_bank(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed bank of white Gaussian noise (4 fields, 64 px larger than a frame); frames take random
    crops / flips of it, ~10x cheaper than drawing fresh normals for every pixel of every frame."""
    h, w, c = shape
    rng = np.random.default_rng(12345)
    return rng.standard_normal((4, h + 64, w + 64, c), dtype=np.float32)


def _noise_patch(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    bank = _noise_bank(tuple(shape))
    k, dy, dx = int(rng.integers(4)), int(rng.integers(65)), int(rng.integers(65))
    patch = bank[k, dy : dy + shape[0], dx : dx + shape[1]]
    return patch[::-1] if rng.random() < 0.5 else patch


# Auto exposure / auto white balance of the capturing camera (webcams and phones run both all the time): the
# fraction of the metering error each corrects (1 = fully), the mid-grey the exposure aims at, and how fast
# they follow the scene (per frame, an exponential moving average; they start converged on the first frame).
AUTO_EXPOSURE_STRENGTH = (0.6, 0.95)
AUTO_WHITE_BALANCE_STRENGTH = (0.5, 0.9)
AUTO_EXPOSURE_TARGET = (0.38, 0.5)
AUTO_ADAPTATION_RATE = 0.12
_LUMA_BGR = np.array([0.114, 0.587, 0.299])
# Centre-weighted metering over a 32 x 24 thumbnail of the frame (Gaussian fall-off to the edges).
_METER_YY, _METER_XX = np.mgrid[0:24, 0:32]
_METER_WEIGHT = np.exp(-(((_METER_XX - 15.5) / 16) ** 2 + ((_METER_YY - 11.5) / 12) ** 2))[..., None]


@dataclass
class CameraLook:
    """Capture: intrinsics, white balance, defocus blur, sensor noise, JPEG, and the camera's own auto
    exposure and grey-world auto white balance.

    Without the automatics every frame would keep the scene light's exact colour and level, which no webcam
    delivers; the network would then learn the light (a cool or dim room reads as "screen" or "print")
    instead of the face. With them the light's colour and level are mostly normalised away for every class
    alike, while what the camera cannot cancel survives: the carrier's colour cast *relative to* its
    surroundings, its black level and contrast, the shading across the face."""

    camera: PinholeCamera
    wb: np.ndarray
    blur: float
    noise: float
    jpeg: int
    ae_strength: float = 0.0  # 0 = the automatics off (fixed exposure and white balance)
    awb_strength: float = 0.0
    ae_target: float = 0.45
    # current BGR gain of the automatics (their state from frame to frame)
    _auto_gain: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def make(
        cls,
        name: str,
        width: int,
        height: int,
        rng: np.random.Generator,
        auto_rng: np.random.Generator | None = None,
    ) -> CameraLook:
        """``auto_rng`` draws the automatics' settings (its own stream, so that the clip's other draws stay
        as they were); None leaves them off."""
        p = CAMERA_PRESETS[name]
        look = cls(
            camera=PinholeCamera.from_hfov(width, height, rng.uniform(*p.hfov)),
            wb=rng.uniform(0.92, 1.08, 3).astype(np.float32),
            blur=float(rng.uniform(*p.blur)),
            noise=float(rng.uniform(*p.noise)),
            jpeg=int(rng.integers(p.jpeg[0], p.jpeg[1] + 1)),
        )
        if auto_rng is not None:
            look.ae_strength = float(auto_rng.uniform(*AUTO_EXPOSURE_STRENGTH))
            look.awb_strength = float(auto_rng.uniform(*AUTO_WHITE_BALANCE_STRENGTH))
            look.ae_target = float(auto_rng.uniform(*AUTO_EXPOSURE_TARGET))
        return look

    def auto_gain(self, img: np.ndarray) -> np.ndarray:
        """BGR gain of auto exposure + grey-world auto white balance for a frame (after the fixed white
        balance), moved a step towards the frame's own metering; centre-weighted like a webcam's meter."""
        if self.ae_strength <= 0 and self.awb_strength <= 0:
            return np.ones(3, np.float32)
        small = cv2.resize(img, (32, 24), interpolation=cv2.INTER_AREA)
        means = np.maximum((small * _METER_WEIGHT).sum((0, 1)) / _METER_WEIGHT.sum(), 1e-3)
        balance = (float(means @ _LUMA_BGR) / means) ** self.awb_strength
        level = (self.ae_target / max(float((balance * means) @ _LUMA_BGR), 1e-3)) ** self.ae_strength
        target = np.clip(balance * level, 0.25, 4.0).astype(np.float32)
        if self._auto_gain is None:
            self._auto_gain = target
        else:
            self._auto_gain = np.exp(
                (1 - AUTO_ADAPTATION_RATE) * np.log(self._auto_gain) + AUTO_ADAPTATION_RATE * np.log(target)
            ).astype(np.float32)
        return self._auto_gain

    def capture(self, frame: np.ndarray, rng: np.random.Generator, exposure: float = 1.0) -> np.ndarray:
        """Float BGR scene radiance -> uint8 BGR frame as the camera delivers it."""
        img = frame * (self.wb * exposure)
        img = img * self.auto_gain(img)
        if self.blur > 0.05:
            img = cv2.GaussianBlur(img, (0, 0), self.blur)
        noise = _noise_patch(img.shape, rng)
        img = img + noise * (self.noise * (0.4 + 0.6 * np.sqrt(np.clip(img, 0, 1))))
        out = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
        if self.jpeg < 100:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return out


# ----------------------------------------------------------------------------------------------------------
# Motion
# ----------------------------------------------------------------------------------------------------------
def head_track(
    rng: np.random.Generator, n: int, style: str = "natural", distance: float | None = None
) -> list[Pose]:
    """World poses of the head pivot: natural (smooth random rotations, +-15 deg yaw, smaller pitch / roll,
    translations, approach, idle jitter, occasionally a larger turn), ``slow_turn`` (demo), ``sweep``
    (tests: a monotone -20..20 deg yaw sweep) or ``still``."""
    D = distance if distance is not None else rng.uniform(0.38, 0.62)
    yaw0, pitch0, roll0 = rng.normal(0, 4), rng.normal(0, 3), rng.normal(0, 2)
    tx0, ty0 = rng.uniform(-0.03, 0.03), rng.uniform(-0.025, 0.02)
    t = np.arange(n) / FPS
    if style == "natural":
        jitter = functools.partial(smooth_track, rng, n, freq=(1.0, 3.0))
        yaw = yaw0 + smooth_track(rng, n, 15.0) + jitter(0.5)
        if rng.random() < 0.3 and n > 30:
            length = int(rng.integers(30, min(90, n) + 1))
            yaw += ease_turn(
                n, int(rng.integers(0, n - length + 1)), length, rng.choice([-1, 1]) * rng.uniform(18, 30)
            )
        pitch = pitch0 + smooth_track(rng, n, 7.0) + jitter(0.4)
        roll = roll0 + smooth_track(rng, n, 4.0) + jitter(0.3)
        tx = tx0 + smooth_track(rng, n, 0.02)
        ty = ty0 + smooth_track(rng, n, 0.015)
        tz = D + smooth_track(rng, n, 0.03)
        if rng.random() < 0.3:
            tz += np.linspace(0, -rng.uniform(0.04, 0.1), n)  # approaching the camera
    elif style == "slow_turn":
        yaw = 25 * np.sin(2 * np.pi * t / 6.0)
        pitch = 5 * np.sin(2 * np.pi * t / 4.0 + 1.0)
        roll = 2 * np.sin(2 * np.pi * t / 5.0)
        tx, ty, tz = 0.01 * np.sin(2 * np.pi * t / 7.0), np.full(n, -0.005), np.full(n, D)
    elif style == "sweep":
        yaw = np.linspace(-20, 20, n)
        pitch, roll = np.full(n, pitch0 * 0.5), np.zeros(n)
        tx, ty, tz = np.zeros(n), np.zeros(n), np.full(n, D)
    elif style == "still":
        yaw, pitch, roll = np.full(n, yaw0 * 0.5), np.full(n, pitch0 * 0.5), np.full(n, roll0)
        tx, ty, tz = np.full(n, tx0 * 0.3), np.full(n, ty0 * 0.3), np.full(n, D)
    else:
        raise ValueError(style)
    return [
        Pose.from_euler(yaw[i] * _DEG, pitch[i] * _DEG, roll[i] * _DEG, (tx[i], ty[i], tz[i]))
        for i in range(n)
    ]


def carrier_track(
    rng: np.random.Generator, n: int, distance: float, style: str, rot: float = 1.0
) -> list[Pose]:
    """Hand-held carrier poses (dv translations + theta rotations), or ``still`` (parallel, motionless)."""
    if style == "still":
        return [Pose.from_euler(0, 0, 0, (0, 0, distance))] * n
    yaw = rng.normal(0, 6 * rot) + smooth_track(rng, n, 12.0 * rot)
    pitch = rng.normal(0, 6 * rot) + smooth_track(rng, n, 9.0 * rot)
    roll = rng.normal(0, 3 * rot) + smooth_track(rng, n, 4.0 * rot)
    jit = functools.partial(smooth_track, rng, n, freq=(1.5, 4.0))
    tx = rng.uniform(-0.02, 0.02) * rot + smooth_track(rng, n, 0.02 * rot) + jit(0.001)
    ty = rng.uniform(-0.02, 0.015) * rot + smooth_track(rng, n, 0.015 * rot) + jit(0.001)
    tz = distance + smooth_track(rng, n, 0.03 * rot)
    if rng.random() < 0.3:
        tz += np.linspace(0, -rng.uniform(0.02, 0.06) * distance / 0.45, n)
    return [
        Pose.from_euler(yaw[i] * _DEG, pitch[i] * _DEG, roll[i] * _DEG, (tx[i], ty[i], tz[i]))
        for i in range(n)
    ]


# ----------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------
@dataclass
class SimFrame:
    """One output frame: ``image`` uint8 BGR; with ``with_depth``: ``depth`` camera z (metres, float32,
    inf where nothing), ``face_mask`` bool (pixels showing the face / head or the face's carrier) and
    ``landmarks`` (468, 2) where the rendered geometry puts the face-mesh landmarks (None if not rendered)."""

    image: np.ndarray
    depth: np.ndarray | None = None
    face_mask: np.ndarray | None = None
    landmarks: np.ndarray | None = None


class HeadView:
    """Renders one identity's head moving in a scene, seen by a camera (float BGR radiance frames)."""

    def __init__(self, model: HeadModel, scene: SceneLook, camera: PinholeCamera, track: list[Pose]):
        self.model, self.scene, self.camera, self.track = model, scene, camera, track

    def render(self, i: int, with_depth: bool = False, background: bool = True):
        cam = self.camera
        frame = np.zeros((cam.height, cam.width, 3), np.float32)
        depth = None
        if background:
            frame, corners = self.scene.background_layer(cam, i)  # the opaque far plane is the first layer
            if with_depth:
                depth = plane_depth(corners, cam, np.ones(frame.shape[:2], bool))
        pose = self.scene.ego[i].compose(self.track[i])
        m = self.model
        layer = render_mesh(
            m.verts,
            m.uv,
            m.tris,
            m.texture,
            pose,
            cam,
            m.normals,
            self.scene.light[i],
            self.scene.ambient,
            with_depth=with_depth,
        )
        face_mask = None
        landmarks = None
        if layer is not None:
            layer.paste(frame, self.scene.light_gain)
            landmarks = layer.points[:468].astype(np.float32)
            if with_depth:
                hd = layer.full_depth(frame.shape[:2])
                alpha = np.zeros(frame.shape[:2], np.float32)
                h, w = layer.layer.shape[:2]
                alpha[layer.y0 : layer.y0 + h, layer.x0 : layer.x0 + w] = layer.layer[..., 3]
                face_mask = alpha > 0.5
                depth = np.where(face_mask, hd, depth if depth is not None else np.inf).astype(np.float32)
        return frame, depth, face_mask, landmarks


def _face_fraction(camera: PinholeCamera, distance: float) -> float:
    return camera.focal * 0.15 / distance / camera.width


def iter_clip(spec: ClipSpec, with_depth: bool = False, head_style: str = "natural") -> Iterator[SimFrame]:
    """Render a planned clip frame by frame (deterministic from ``spec.seed``)."""
    rng = np.random.default_rng(spec.seed)
    n = spec.frames
    model = HeadModel.for_identity(spec.identity)
    look = CameraLook.make(spec.camera, spec.width, spec.height, rng, np.random.default_rng([spec.seed, 7]))
    cam = look.camera
    still = spec.pai == "replay_still"
    scene = SceneLook.make(spec.scene, cam, rng, n, ego_motion=not still)
    noise_rng = np.random.default_rng([spec.seed, 99])
    if spec.attack == "none":
        view = HeadView(model, scene, cam, head_track(rng, n, head_style))
        for i in range(n):
            frame, depth, mask, lm = view.render(i, with_depth)
            yield SimFrame(look.capture(frame * scene.exposure, noise_rng), depth, mask, lm)
        return
    clean = spec.protocol == "motion_only"
    full = spec.framing == "full"
    # The attacker's recording / photo scene: another background and light from the same split pool.
    rec_scene_name = f"{rng.choice(BACKGROUNDS[spec.split])}-L{rng.choice(LIGHTS[spec.split])}"
    if spec.attack == "print":
        yield from _print_clip(
            spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth
        )
    else:
        yield from _replay_clip(
            spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth, head_style
        )


def _carrier_geometry(
    cam: PinholeCamera, rng, full: bool, face_frac_on_carrier: float, aspect: float, full_scale: float = 1.3
):
    """Carrier width (m) and distance so that the face on it looks about life-size to the camera."""
    live_distance = rng.uniform(0.38, 0.62)
    if full:  # the carrier fills ``full_scale`` (1.3) x the view at its distance
        distance = rng.uniform(0.3, 0.55)
        width = cam.frustum_size(distance)[0] * full_scale
    else:
        face_m = rng.uniform(0.09, 0.15)
        width = face_m / face_frac_on_carrier
        distance = max(face_m * live_distance / 0.15, 0.12)
    return width, width / aspect, distance


# A bent print is a cylinder whose arc spans this many radians over the sheet's width (sign: towards or away
# from the camera). Hand-held prints sag mildly: 0.45-1.2 rad on an A4 sheet (21 cm) is a radius of 17-47 cm,
# 1-3 cm of sag. Set per sheet rather than as one curvature so that a large sheet (full framing) does not
# roll up into a tube.
BEND_ARC = (0.45, 1.2)


def _bend_arc(spec: ClipSpec) -> float:
    """Signed arc angle of a bent print (own stream: the other draws of the clip stay as they were)."""
    g = np.random.default_rng([spec.seed, 5])
    return float(g.choice([-1, 1]) * g.uniform(*BEND_ARC))


def _bent_cover(arc: float, half_width_over_distance: float) -> float:
    """Width factor for a bent sheet to reach as far out in the image as the flat one would (convex case:
    the sides recede, worst case), so that a full-framing bent print still fills the view.

    A sheet of width ``w`` bent by ``arc`` reaches ``x = R sin(arc / 2)`` at depth ``d + R (1 - cos(arc / 2))``
    (``R = w / arc``); equating ``x / depth`` with the flat sheet's ``k = w_flat / (2 d)`` gives ``w / w_flat``.
    """
    a = abs(arc) / 2
    if a < 1e-6:
        return 1.0
    k = half_width_over_distance
    return a / max(np.sin(a) - k * (1 - np.cos(a)), 0.2)


def _print_clip(spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth):
    cam = look.camera
    n = spec.frames
    bent = spec.pai == "print_bent"
    arc = _bend_arc(spec) if bent else 0.0
    full_scale = 1.3
    if full and bent:
        full_scale *= _bent_cover(arc, full_scale * cam.width / (2 * cam.focal))
    if full:  # the print is a full camera view, 1.3x the frame, rendered at the same pixel density
        pcam = cam.enlarged(full_scale)
        rec_scene = SceneLook.make(rec_scene_name, pcam, rng, 1, ego_motion=False) if not clean else None
        head = head_track(rng, 1, "still")
        photo_scene = rec_scene or SceneLook.make(spec.scene, pcam, rng, 1, ego_motion=False)
    else:
        portrait = rng.random() < 0.7
        pw, ph = (540, 720) if portrait else (720, 540)
        pcam = PinholeCamera.from_hfov(pw, ph, rng.uniform(35, 50))
        frac = rng.uniform(0.4, 0.7)
        dist = pcam.focal * 0.15 / (frac * pw)
        photo_scene = SceneLook.make(rec_scene_name, pcam, rng, 1, ego_motion=False)
        if rng.random() < 0.5:  # studio backdrop
            photo_scene.background[:] = rng.uniform(0.3, 0.95, 3).astype(np.float32)
        head = head_track(rng, 1, "still", distance=dist)
    content, _, _, content_lm = HeadView(model, photo_scene, pcam, head).render(0)
    content = np.clip(content * photo_scene.exposure, 0, 1)
    margin = 0.0
    if clean:
        texture = np.concatenate([content, np.ones(content.shape[:2] + (1,), np.float32)], -1)
    else:
        plook = PrintLook.random(rng)
        content = apply_print(content, plook, rng)
        margin = 0.0 if full else rng.uniform(0.0, 0.1)
        paper = np.array([plook.white] * 3, np.float32) * np.array(
            [1.0, 1.0, 1.0 + 0.01 * plook.tint], np.float32
        )
        texture = add_border(content, margin, np.clip(paper, 0, 1))
    border_px = int(round(margin * content.shape[1]))
    width, height, distance = _carrier_geometry(
        cam,
        rng,
        full,
        _face_fraction(pcam, head[0].t[2]) / (1 + 2 * margin),
        texture.shape[1] / texture.shape[0],
        full_scale,
    )
    track = carrier_track(rng, n, distance, "hand", rot=0.45 if full else 1.0)
    texture = _prefilter(texture, texture.shape[1] / (cam.focal * width / distance))
    sheet = bent_sheet(width, height, arc / width, texture.shape) if bent else None
    sheet_lm = (
        sheet_point_weights(content_lm + border_px, texture.shape)
        if bent and content_lm is not None
        else None
    )
    for i in range(n):
        frame, bg_corners = scene.background_layer(cam, i)
        pose = scene.ego[i].compose(track[i])
        depth = mask = lm = None
        n_world = pose.R @ np.array([0.0, 0.0, -1.0])
        shade = (
            1.0
            if clean
            else scene.ambient + (1 - scene.ambient) / 0.85 * max(0.0, float(n_world @ scene.light[i]))
        )
        if bent:
            verts, uv, tris, normals = sheet
            layer = render_mesh(
                verts,
                uv,
                tris,
                texture,
                pose,
                cam,
                None if clean else normals,
                None if clean else scene.light[i],
                scene.ambient,
                with_depth=with_depth,
            )
            if layer is not None:  # else the sheet is out of view: the frame shows the background only
                layer.paste(frame, None if clean else scene.light_gain)
                if sheet_lm is not None:
                    ids, weights = sheet_lm
                    lm = (weights[..., None] * layer.points[ids]).sum(1).astype(np.float32)
            if with_depth:
                alpha = np.zeros(frame.shape[:2], np.float32)
                if layer is not None:
                    h, w = layer.layer.shape[:2]
                    alpha[layer.y0 : layer.y0 + h, layer.x0 : layer.x0 + w] = layer.layer[..., 3]
                mask = alpha > 0.5
                sheet_depth = layer.full_depth(frame.shape[:2]) if layer is not None else np.inf
                depth = np.where(mask, sheet_depth, plane_depth(bg_corners, cam, ~mask))
        else:
            corners = plane_corners(width, height, pose)
            layer, H = render_plane(texture, corners, cam)
            composite(frame, layer, None if clean else shade * scene.light_gain)
            lm = _map_points(H, content_lm + border_px)
            if with_depth:
                mask = layer[..., 3] > 0.5
                depth = np.where(mask, plane_depth(corners, cam, mask), plane_depth(bg_corners, cam, ~mask))
        yield SimFrame(look.capture(frame * scene.exposure, noise_rng), depth, mask, lm)


def _prefilter(texture: np.ndarray, texels_per_pixel: float) -> np.ndarray:
    """Low-pass a carrier texture that the camera sees minified (``texels_per_pixel`` > 1), as a camera pixel
    integrates over its footprint: the warp samples the texture at points, and without this a fine pattern
    (the print's halftone) would alias into bold moiré that no real capture shows."""
    if texels_per_pixel <= 1.05:
        return texture
    sigma = 0.35 * np.sqrt(texels_per_pixel**2 - 1.0)
    return cv2.GaussianBlur(texture, (0, 0), sigma)


def _map_points(H: np.ndarray, pts: np.ndarray | None) -> np.ndarray | None:
    if pts is None:
        return None
    return (
        cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), H)
        .reshape(-1, 2)
        .astype(np.float32)
    )


def _replay_clip(
    spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth, head_style
):
    cam = look.camera
    n = spec.frames
    still = spec.pai == "replay_still"
    if full:
        rcam = cam.enlarged(1.3)
    else:
        rcam = PinholeCamera.from_hfov(480, 360, rng.uniform(50, 70))  # the recording camera (f_a)
    rec_scene = SceneLook.make(spec.scene if clean else rec_scene_name, rcam, rng, n, ego_motion=not clean)
    rec_track = head_track(rng, n, head_style)
    rec = HeadView(model, rec_scene, rcam, rec_track)
    rec_look = (
        None
        if clean
        else CameraLook.make(spec.camera, rcam.width, rcam.height, rng, np.random.default_rng([spec.seed, 8]))
    )
    slook = None if clean else ScreenLook.random(rng)
    bezel = 0.0 if (clean or full) else slook.bezel
    border_px = int(round(bezel * rcam.width))
    tex_shape = (rcam.height + 2 * border_px, rcam.width + 2 * border_px)
    face_frac = _face_fraction(rcam, float(np.mean([p.t[2] for p in rec_track])))
    width, height, distance = _carrier_geometry(
        cam, rng, full, face_frac / (1 + 2 * bezel), tex_shape[1] / tex_shape[0]
    )
    track = carrier_track(rng, n, distance, "still" if still else "hand", rot=0.45 if full else 1.0)
    texture = np.ones(tex_shape + (4,), np.float32)  # reused: bezel once, active area every frame
    if not clean:
        texture[..., :3] = slook.bezel_value
    active = texture[border_px : border_px + rcam.height, border_px : border_px + rcam.width, :3]
    for i in range(n):
        content, _, _, rec_lm = rec.render(i)
        content *= rec_scene.exposure
        if clean:
            np.clip(content, 0, 1, out=active)
        else:  # the recording camera's own capture, then the display's light
            active[:] = apply_screen(rec_look.capture(content, noise_rng), slook, i / FPS)
        frame, bg_corners = scene.background_layer(cam, i)
        pose = scene.ego[i].compose(track[i])
        corners = plane_corners(width, height, pose)
        layer, H = render_plane(texture, corners, cam)
        mask = layer[..., 3] > 0.5
        if not clean:
            apply_moire(layer, H, slook, border_px, i / FPS)
        composite(frame, layer)
        lm = _map_points(H, None if rec_lm is None else rec_lm + border_px)
        depth = None
        if with_depth:
            depth = np.where(mask, plane_depth(corners, cam, mask), plane_depth(bg_corners, cam, ~mask))
        yield SimFrame(
            look.capture(frame * scene.exposure, noise_rng), depth, mask if with_depth else None, lm
        )
