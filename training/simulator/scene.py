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

This module plans clips (:func:`plan_clip`: identity, scene, camera, split, attack) and renders them
(:func:`iter_clip`); how scenes and cameras look is in :mod:`.looks`, how heads and carriers move in
:mod:`.motion`, and the frames of live heads, prints and replays are drawn in :mod:`.render`.

Splits mimic the OULU-NPU protocols (see :func:`plan_clip`): the test split has unseen identity morphs,
unseen backgrounds, an unseen lighting preset and an unseen camera (dev likewise, disjoint from both).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .head import HeadModel, Identity
from .looks import CameraLook, SceneLook
from .motion import FPS, head_track
from .render import HeadView, SimFrame, print_clip, replay_clip

__all__ = [
    "BACKGROUNDS",
    "CAMERAS",
    "DEFAULT_PHOTOS",
    "FPS",
    "LIGHTS",
    "PAIS",
    "ClipSpec",
    "SimFrame",
    "iter_clip",
    "plan_clip",
]


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
    # the range a replay's screen saturation is drawn from (``ScreenLook.saturation``); (1, 1): none
    screen_saturation: tuple[float, float] = (1.0, 1.0)

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
    screen_saturation: tuple[float, float] = (1.0, 1.0),
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
        screen_saturation=screen_saturation_range(screen_saturation),
    )


def screen_saturation_range(bounds) -> tuple[float, float]:
    """``(low, high)`` with ``0 < low <= high``, or a ValueError that says what is wrong."""
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"screen saturation must be two numbers LOW,HIGH, got {bounds!r}") from None
    if not 0.0 < low <= high:
        raise ValueError(f"screen saturation must satisfy 0 < LOW <= HIGH, got {low}, {high}")
    return low, high


# ----------------------------------------------------------------------------------------------------------
# Rendering a planned clip
# ----------------------------------------------------------------------------------------------------------
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
        yield from print_clip(
            spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth
        )
    else:
        yield from replay_clip(
            spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth, head_style
        )
