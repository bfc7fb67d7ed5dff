"""Rendering the frames of a simulated clip: :class:`SimFrame` (one output frame), :class:`HeadView` (a
head moving in a scene: the live clip, and the content of prints and replays), and the print and replay
attacks (:func:`print_clip`, :func:`replay_clip`): the carrier's geometry, its print or screen look and its
motion in the hand, filmed by the clip's camera. The scene model is described in :mod:`.scene`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

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
from .geometry import PinholeCamera, Pose, composite, plane_corners, plane_depth, render_plane
from .head import HeadModel, render_mesh
from .looks import CameraLook, SceneLook
from .motion import FPS, carrier_track, head_track

if TYPE_CHECKING:
    from .scene import ClipSpec

__all__ = ["HeadView", "SimFrame", "carrier_geometry", "face_fraction", "print_clip", "replay_clip"]


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


def face_fraction(camera: PinholeCamera, distance: float) -> float:
    return camera.focal * 0.15 / distance / camera.width


def carrier_geometry(
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


def print_clip(spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth):
    """The frames of a print attack: a still render of the head in the attacker's photo scene, printed (or
    clean in ``motion_only``), on a flat or bent sheet moving in the hand in front of ``scene``."""
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
    width, height, distance = carrier_geometry(
        cam,
        rng,
        full,
        face_fraction(pcam, head[0].t[2]) / (1 + 2 * margin),
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


def replay_clip(
    spec, rng, noise_rng, model, look, scene, rec_scene_name, clean, full, with_depth, head_style
):
    """The frames of a replay attack: the head recorded by another camera in the attacker's scene, shown on
    a screen (tone, cast, moiré, glare, bezel; clean in ``motion_only``) held in the hand or still."""
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
    if slook is not None and spec.screen_saturation != (1.0, 1.0):
        # its own stream, so that a saturation range leaves every other draw of the clip as it was
        low, high = spec.screen_saturation
        slook = replace(slook, saturation=float(np.random.default_rng([spec.seed, 9]).uniform(low, high)))
    bezel = 0.0 if (clean or full) else slook.bezel
    border_px = int(round(bezel * rcam.width))
    tex_shape = (rcam.height + 2 * border_px, rcam.width + 2 * border_px)
    face_frac = face_fraction(rcam, float(np.mean([p.t[2] for p in rec_track])))
    width, height, distance = carrier_geometry(
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
