"""How the simulated head and the hand-held carriers (prints, screens) move over a clip: per-frame poses."""

from __future__ import annotations

import functools

import numpy as np

from .geometry import Pose, ease_turn, smooth_track

__all__ = ["FPS", "carrier_track", "head_track"]

FPS = 30  # frames per second of every clip
_DEG = np.pi / 180


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
