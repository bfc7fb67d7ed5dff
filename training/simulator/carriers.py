"""Presentation-attack instruments: printed photos and replay screens (texture artifacts + carrier meshes).

Every artifact here is a *texture* cue; the ``motion_only`` protocol switches all of them off so that the
only difference between live and attack is the geometry over time (appendix Sec. 1.2: a print has relative
depth 0, Eq. 12; a moving / rotating screen distorts the recorded parallax, Eq. 10 / Eq. 22).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "PrintLook",
    "ScreenLook",
    "apply_print",
    "apply_screen",
    "bent_sheet",
    "sheet_point_weights",
    "apply_moire",
    "add_border",
]


@dataclass
class PrintLook:
    """Ink and paper: gamut compression, paper white / ink black, halftone screen, blur, paper grain."""

    chroma: float = 0.75
    white: float = 0.9
    black: float = 0.1
    tint: float = 3.0
    halftone_period: float = 3.5
    halftone_angle: float = 0.26
    halftone_amount: float = 0.15
    blur: float = 0.8
    grain: float = 0.015

    @classmethod
    def random(cls, rng: np.random.Generator) -> PrintLook:
        return cls(
            chroma=rng.uniform(0.55, 0.9),
            white=rng.uniform(0.82, 0.96),
            black=rng.uniform(0.05, 0.16),
            tint=rng.uniform(-3, 7),
            halftone_period=rng.uniform(2.2, 3.2),
            halftone_angle=rng.uniform(0, np.pi / 2),
            # Real halftone dots are far below a camera pixel at arm's length (0.1-0.25 mm at 100-250 lpi):
            # what survives is a faint screen, not a bold dot lattice (which also hides the face from the
            # tracker and would be a trivial print cue).
            halftone_amount=rng.uniform(0.03, 0.12),
            blur=rng.uniform(0.3, 1.3),
            grain=rng.uniform(0.005, 0.025),
        )


def apply_print(img: np.ndarray, look: PrintLook, rng: np.random.Generator) -> np.ndarray:
    """BGR float32 [0, 1] photo -> how it looks printed on paper."""
    lab = cv2.cvtColor(np.clip(img, 0, 1).astype(np.float32), cv2.COLOR_BGR2Lab)
    lab[..., 0] = 100 * look.black + (look.white - look.black) * lab[..., 0]
    lab[..., 1] *= look.chroma
    lab[..., 2] = lab[..., 2] * look.chroma + look.tint
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
    h, w = out.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(look.halftone_angle), np.sin(look.halftone_angle)
    u, v = (c * xx + s * yy) / look.halftone_period, (-s * xx + c * yy) / look.halftone_period
    dots = (0.5 + 0.5 * np.cos(2 * np.pi * u)) * (0.5 + 0.5 * np.cos(2 * np.pi * v))
    out = out * ((1 - look.halftone_amount) + look.halftone_amount * 4 * dots)[..., None]
    out = cv2.GaussianBlur(out, (0, 0), look.blur)
    grain = cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32), (0, 0), 1.5) * look.grain * 3
    return np.clip(out + grain[..., None], 0, 1).astype(np.float32)


@dataclass
class ScreenLook:
    """Display: tone curve, colour cast, black level, pixel grid (moiré), glare, refresh banding, bezel."""

    gamma: float = 1.0
    gains: tuple[float, float, float] = (1.05, 1.0, 0.95)
    black: float = 0.04
    contrast: float = 0.92
    native_per_texel: float = 3.0
    moire: float = 0.12
    glare: float = 0.15
    glare_pos: tuple[float, float] = (0.3, 0.3)
    glare_radius: float = 0.25
    banding: float = 0.04
    band_period: float = 90.0
    band_speed: float = 0.7
    bezel: float = 0.05
    bezel_value: float = 0.08
    saturation: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> ScreenLook:
        return cls(
            gamma=rng.uniform(0.8, 1.3),
            gains=tuple(rng.uniform([0.98, 0.92, 0.85], [1.15, 1.05, 1.02])),
            black=rng.uniform(0.015, 0.08),
            contrast=rng.uniform(0.8, 0.98),
            native_per_texel=rng.uniform(2.2, 5.5),
            moire=rng.uniform(0.04, 0.22),
            glare=rng.uniform(0.0, 0.3),
            glare_pos=tuple(rng.uniform(0.1, 0.9, 2)),
            glare_radius=rng.uniform(0.1, 0.4),
            banding=rng.uniform(0.0, 0.08),
            band_period=rng.uniform(30, 160),
            band_speed=rng.uniform(-2, 2),
            bezel=rng.uniform(0.02, 0.09),
            bezel_value=rng.uniform(0.02, 0.2),
        )


def apply_screen(img_u8: np.ndarray, look: ScreenLook, t: float) -> np.ndarray:
    """Recorded uint8 BGR frame -> float32 light the screen emits: tone curve (gamma, black level, contrast)
    and colour cast through one per-channel lookup table, the panel's saturation, plus a drifting glare spot
    (separable Gaussian).

    ``saturation`` scales chroma about the luma (BT.601 weights): a wide-gamut panel or a phone's "vivid"
    colour mode shows sRGB content more saturated than it was recorded (> 1); 1 is a colour-managed panel."""
    x = np.linspace(0, 1, 256, dtype=np.float32) ** look.gamma
    lut = (look.black + (look.contrast - look.black) * x)[None, :, None] * np.asarray(look.gains, np.float32)
    out = cv2.LUT(img_u8, lut.astype(np.float32).reshape(1, 256, 3))
    if look.saturation != 1.0:
        luma = cv2.transform(out, np.array([[0.114, 0.587, 0.299]], np.float32))
        out = cv2.addWeighted(out, look.saturation, cv2.merge([luma] * 3), 1.0 - look.saturation, 0.0)
        np.maximum(out, 0.0, out=out)
    if look.glare > 0:
        h, w = out.shape[:2]
        gx = np.arange(w, dtype=np.float32) / w - look.glare_pos[0] - 0.03 * np.sin(0.7 * t)
        gy = np.arange(h, dtype=np.float32) / h - look.glare_pos[1]
        k = 1.0 / (2 * look.glare_radius**2)
        spot = np.outer(look.glare * np.exp(-k * gy**2), np.exp(-k * gx**2)).astype(np.float32)
        out += spot[..., None]
    return np.minimum(out, 1.0, out=out)


def add_border(img: np.ndarray, frac: float, value) -> np.ndarray:
    """Opaque premultiplied BGRA texture of ``img`` with a border ``frac`` of its width (paper margin / bezel)."""
    b = int(round(frac * img.shape[1]))
    out = cv2.copyMakeBorder(
        img, b, b, b, b, cv2.BORDER_CONSTANT, value=tuple(float(v) for v in np.broadcast_to(value, 3))
    )
    return np.concatenate([out, np.ones(out.shape[:2] + (1,), np.float32)], -1)


def apply_moire(
    layer: np.ndarray, H_tex_to_img: np.ndarray, look: ScreenLook, border_px: int, t: float
) -> None:
    """Multiply a warped screen layer (in place) by the display's pixel grid point-sampled by the camera:
    its aliasing is the moiré (per-channel sub-pixel phase gives colour fringes). The camera pixel's aperture
    (fill factor 0.5) attenuates the grid by |sinc(0.5 f)|, f = display pixels per camera pixel. Adds the
    rolling-shutter refresh banding (rows of the camera)."""
    ys, xs = np.nonzero(layer[..., 3] > 0)
    if len(ys) == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    gx = np.arange(x0, x1, dtype=np.float32)[None, :]
    gy = np.arange(y0, y1, dtype=np.float32)[:, None]
    Hi = np.linalg.inv(H_tex_to_img).astype(np.float32)
    w = Hi[2, 0] * gx + Hi[2, 1] * gy + Hi[2, 2]
    u = ((Hi[0, 0] * gx + Hi[0, 1] * gy + Hi[0, 2]) / w - border_px) * look.native_per_texel
    v = ((Hi[1, 0] * gx + Hi[1, 1] * gy + Hi[1, 2]) / w - border_px) * look.native_per_texel
    # display pixels per camera pixel, at the centre of the screen
    cy, cx = (y1 - y0) // 2, (x1 - x0) // 2
    f = float(
        np.hypot(u[cy, min(cx + 1, x1 - x0 - 1)] - u[cy, cx], v[cy, min(cx + 1, x1 - x0 - 1)] - v[cy, cx])
    )
    amount = look.moire * abs(float(np.sinc(0.5 * f)))
    gv = 0.5 + 0.5 * np.cos(2 * np.pi * v)
    band = 1 - look.banding * (0.5 + 0.5 * np.sin(2 * np.pi * (gy / look.band_period - t * look.band_speed)))
    roi = layer[y0:y1, x0:x1]
    for ch, phase in enumerate((0.0, 1 / 3, 2 / 3)):  # B, G, R sub-pixels
        gu = 0.5 + 0.5 * np.cos(2 * np.pi * (u - phase))
        roi[..., ch] *= ((1 - amount) + amount * 4 * gu * gv) * band


def bent_sheet(width_m: float, height_m: float, curvature: float, tex_shape, cols: int = 24):
    """A sheet bent into a cylinder about its vertical axis (curvature = 1 / radius, sign = towards the
    camera or away): ``(verts (V, 3) object coordinates, uv (V, 2), tris (T, 3) CCW, normals (V, 3))``."""
    th, tw = tex_shape[:2]
    xs = np.linspace(-width_m / 2, width_m / 2, cols + 1)
    if abs(curvature) < 1e-6:
        X, Z, nx, nz = xs, np.zeros_like(xs), np.zeros_like(xs), -np.ones_like(xs)
    else:
        R = 1.0 / curvature
        phi = xs / R
        X, Z = R * np.sin(phi), R * (1 - np.cos(phi))
        nx, nz = np.sin(phi), -np.cos(phi)
    verts, uv, normals = [], [], []
    for y, tv in ((-height_m / 2, -0.5), (height_m / 2, th - 0.5)):
        for i in range(cols + 1):
            verts.append((X[i], y, Z[i]))
            uv.append((-0.5 + tw * i / cols, tv))
            normals.append((nx[i], 0.0, nz[i]))
    tris = []
    n = cols + 1
    for i in range(cols):
        tris.append((i, i + 1, n + i + 1))
        tris.append((i, n + i + 1, n + i))
    normals = np.asarray(normals)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return np.asarray(verts), np.asarray(uv, np.float32), np.asarray(tris, np.int32), normals


def sheet_point_weights(points_uv: np.ndarray, tex_shape, cols: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Where texture points land on a :func:`bent_sheet` mesh: ``(vertex ids (N, 3), weights (N, 3))`` of the
    triangle holding each point. The renderer maps each triangle affinely, so a point's image position is
    ``(weights[..., None] * projected_vertices[ids]).sum(1)`` exactly where its texel is drawn."""
    th, tw = tex_shape[:2]
    pts = np.asarray(points_uv, np.float64).reshape(-1, 2)
    s = np.clip((pts[:, 0] + 0.5) / tw * cols, 0.0, cols - 1e-9)
    col = np.floor(s).astype(np.int64)
    a = s - col  # across the column, 0..1
    b = np.clip((pts[:, 1] + 0.5) / th, 0.0, 1.0)  # down the sheet, 0..1
    n = cols + 1
    upper = a >= b  # triangle (i, i+1, n+i+1), else (i, n+i+1, n+i)
    ids = np.where(
        upper[:, None],
        np.stack([col, col + 1, n + col + 1], 1),
        np.stack([col, n + col + 1, n + col], 1),
    )
    weights = np.where(upper[:, None], np.stack([1 - a, a - b, b], 1), np.stack([1 - b, a, b - a], 1))
    return ids, weights
