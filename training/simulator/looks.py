"""How a simulated scene and camera look: the background plane, the room light and the camera's ego-motion
(:class:`SceneLook`), and the capturing camera's pipeline (:class:`CameraLook`: white balance, blur, sensor
noise, JPEG and its auto exposure / auto white balance), drawn from the presets of each split's pool."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from .geometry import PinholeCamera, Pose, plane_corners, render_plane, smooth_track

__all__ = ["CAMERA_PRESETS", "LIGHT_PRESETS", "CameraLook", "CameraPreset", "LightPreset", "SceneLook"]

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
