"""Model-free motion-parallax cue from tracked face-mesh landmarks, and its fusion with the network.

Why it works (paper appendix, Eq. 1-5 and 11-12)
------------------------------------------------
Under a pinhole camera a point at depth ``z`` that moves by ``dx`` moves by ``du = f dx / z`` in the image
(Eq. 1-2), so points of a live head at different depths (nose tip, cheeks, ears) move *differently*
(Eq. 3), and three points give their relative depth ``d1/d2`` (Eq. 5). Every point of a print lies on one
plane: the estimated relative depth collapses to ``d1' = d2' = 0`` (Eq. 11-12). In image terms: the motion
of a plane between two frames is exactly a homography, while a 3-D head leaves a *parallax* field that no
homography explains (plane + parallax: ``x' ~ H x + gamma e'``, with ``gamma`` proportional to the point's
height over the plane).

What is measured (:func:`estimate_parallax`)
-------------------------------------------
Only the x, y of the :data:`RIGID_LANDMARKS` move the cue (nose, upper cheeks, temples, upper forehead,
eye-socket rims; no lips, jaw, chin, eyelids, eyebrows or face-oval silhouette points, which move with
expressions or slide over the surface as the head turns). For every pair (first frame, frame k) of the
window, coordinates normalised by the face size:

1. ``motion`` = RMS landmark displacement left after the best 2-D similarity transform (the part of the
   motion that an in-plane move, roll or zoom cannot explain; a fronto-parallel shift of a print has none).
2. A least-squares homography (``cv2.findHomography``, method 0, Levenberg-Marquardt refined); its RMS
   residual is ``residual_px`` (the planar misfit, as the paper's Eq. 12 test).
3. Bent-print allowance: the homography residual is fitted with the linearised plane + parallax model
   ``r_i = gamma_i (e_x - e_z x_i, e_y - e_z y_i)`` (epipole ``e``), first with ``gamma`` a quadratic form
   of the image position (a cylinder- or saddle-bent sheet: 9 unknowns), then with the face's own relief
   ``z~`` (MediaPipe z of the reference frame with its best quadratic surface removed: nose and eye sockets)
   added as a 4th ``gamma`` term. The energy that term explains *beyond* the smooth bend is the
   *face parallax* ``parallax_px``. It is the matched filter of a live head: a plane or a smoothly bent
   sheet gives none, jitter gives only 3 of 2N degrees of freedom of noise.
4. ``score = sqrt(max(sum_k F_k^2 - lambda * noise_F, 0)) / sqrt(sum_k S_k^2 - noise_S)``, the fraction of
   the non-similarity motion that is face-shaped parallax, clipped to [0, 1]. It does not depend on how far
   the head turns, only its precision does. Exact geometry: live heads ~0.3-0.5, flat and mildly bent
   prints ~0-0.15. Real MediaPipe tracks: live 0.29-0.57 (5-95 %), but prints 0.1-0.4, because the face
   mesh fits a *3-D* face to a foreshortened print and so puts part of a head's parallax into the
   landmarks of a tilted print (see training/parallax_eval.py). The threshold sits at live BPCER ~5 %.

Guards: jitter enters through the expected noise energies (``noise_px`` = per-coordinate landmark jitter
sigma; estimated online by :class:`ParallaxCue` from the stillest frame pairs, see
:meth:`ParallaxCue.update`), and the motion gate: when the largest noise-corrected non-similarity motion is
below ``max(min_motion_sigmas * sigma, min_motion_rel * face_size)`` the state is ``"insufficient_motion"``
and ``score`` is None. The z of the landmarks is used only as the *shape* template of step 3, never as motion.

Relative depth diagnostic (Eq. 5): for the :data:`DEPTH_TRIPLES` (nose tip ``l``, cheek ``m``, outer cheek
near the ear ``r`` on one horizontal line) ``d1/d2 = (du_l/du_m - 1) / (du_l/du_r - 1)`` from the horizontal
displacements of each pair; the result carries its median over pairs and the spread (max - min). A live head
moving sideways gives a stable ratio near the face's true one (~0.4); a print gives 0/0 (NaN) or an
unstable value (Eq. 12).

Public API (pure; numpy + OpenCV only, no torch)
------------------------------------------------
- ``estimate_parallax(window, face_size=None, config=None, noise_px=None) -> ParallaxResult``
  ``window``: sequence of (468, 2|3) landmark arrays (pixels; None for a frame without a face).
- ``ParallaxCue(config)``: ``update(landmarks | None, face_size=None)`` once per camera frame (keeps the
  history and the jitter estimate), ``evaluate(window_landmarks=None, face_size=None) -> ParallaxResult``
  (None = the last ``num_frames`` frames sampled every ``frame_interval`` from the history), ``reset()``.
- ``ParallaxResult(state: "ok" | "insufficient_motion" | "no_face", score: float in [0, 1] | None,
  residual_px, motion_px, parallax_px, noise_px, face_size, depth_ratios, depth_ratio_spread, pairs,
  threshold)``; ``.is_live`` -> True / False / None (no verdict).
- ``PARALLAX_THRESHOLD``: the calibrated threshold (live if ``score >= threshold``); override per call with
  ``ParallaxConfig(threshold=...)``.
- ``fuse(network_score, network_threshold, parallax, rule="either_spoof", ...) -> FusionDecision`` with
  ``FUSION_RULES``:

  * ``"network"``: the network alone: live iff ``network_score >= network_threshold``.
  * ``"either_spoof"``: spoof if the network says spoof *or* the parallax cue gives a verdict (state "ok")
    and ``parallax.score < parallax threshold``; with no parallax verdict (insufficient motion, no face)
    the network decides alone. ``score`` reported = the network score.
  * ``"logistic"``: ``p = sigmoid(w_net * (network_score - network_threshold) + w_par * (parallax.score -
    parallax threshold) + b)``, live iff ``p >= 0.5``; without a parallax verdict the parallax term is 0
    (the network decides at its own threshold). Coefficients: :data:`LOGISTIC_COEFFICIENTS` (see there
    how they were obtained) or ``coefficients=`` per call.

Limits: a *replayed video* of a moving head carries the recorded head's real parallax (the screen is a
plane, but what moves on it is a 3-D head: only the screen's own motion adds a homography), so this cue
cannot catch replays alone; that is the network's job. Masks with real 3-D relief and strongly bent or
folded prints (relief like a nose) also pass. The cue needs some out-of-plane head rotation (a few degrees
within the window); in-plane moves give no verdict.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

__all__ = [
    "DEPTH_TRIPLES",
    "FUSION_RULES",
    "LOGISTIC_COEFFICIENTS",
    "PARALLAX_THRESHOLD",
    "RIGID_LANDMARKS",
    "FusionDecision",
    "ParallaxConfig",
    "ParallaxCue",
    "ParallaxResult",
    "estimate_parallax",
    "fuse",
    "with_threshold",
]

# ----------------------------------------------------------------------------------------------------------
# Calibrated constants (the ONE place; see training/parallax_eval.py for how they were obtained)
# ----------------------------------------------------------------------------------------------------------
#: Live if ``score >= PARALLAX_THRESHOLD``. Calibrated with training/parallax_eval.py on real MediaPipe tracks
#: of simulator clips rendered in memory (48 clips, seed 11, 240 windows): the dev split's live windows with a
#: verdict at BPCER <= 5 % gave 0.294 (all live windows: 5th percentile 0.29, median 0.36); the synthetic
#: landmark tracks (with the face mesh's hallucinated print parallax modelled) agree (live p5 0.27-0.30).
PARALLAX_THRESHOLD = 0.29

#: Logistic fusion ``sigmoid(w_net * (s_net - t_net) + w_par * (s_par - t_par) + bias)``. Fitted (Newton-IRLS
#: logistic regression) on the 479 dev windows with a parallax verdict of the simulator's ``data/sim-normal``
#: (600 clips, seed 1, cameras with auto exposure / white balance), with the bundled ``sgtd-lite``'s video
#: scores (``eval``'s scores.csv as ``{video_id: score, threshold: t}``): ``python -m
#: livenessapp_training.parallax_eval --windows 0 --sim-root data/sim-normal --sim-splits dev,test
#: --network-scores SCORES.json``. Prints rarely move enough there to get a cue verdict, so the fit mostly
#: learns a positive bias that lowers the network's effective threshold, plus a moderate weight on the cue;
#: refit after retraining the network.
LOGISTIC_COEFFICIENTS: dict[str, float] = {"w_net": 9.12, "w_par": 2.29, "bias": 0.51}

#: Rigid face-mesh landmarks (186 of 468) used for motion: nose, upper cheeks, temples, upper forehead and
#: eye-socket rims. Excluded: FACEMESH_LIPS and every point below the subnasale (landmark 2) -- lips, jaw,
#: chin, lower cheeks; FACEMESH_FACE_OVAL (silhouette points slide over the surface as the head turns);
#: points inside 1.25x the eyelid contour's ellipse (eyelids, blinks); points within 6 % of the face width of
#: an eyebrow landmark (brow raise/frown). Derived once on the frontal mesh of matplotlib's Grace Hopper
#: photo and frozen here.
RIGID_LANDMARKS: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 8, 9, 19, 20, 31, 34, 35, 36, 44, 45, 47, 48, 49, 50, 51, 59, 60, 64, 69, 75, 79, 94,
    98, 99, 100, 101, 102, 104, 108, 111, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 125, 126,
    128, 129, 131, 134, 137, 139, 141, 142, 143, 147, 151, 156, 166, 168, 174, 177, 187, 188, 189, 193, 195,
    196, 197, 198, 203, 205, 209, 217, 218, 219, 220, 226, 227, 228, 229, 230, 231, 232, 233, 235, 236, 237,
    238, 239, 240, 241, 242, 244, 245, 248, 250, 261, 264, 265, 266, 274, 275, 277, 278, 279, 280, 281, 289,
    290, 294, 299, 305, 309, 326, 327, 328, 329, 330, 331, 333, 337, 340, 342, 343, 344, 345, 346, 347, 348,
    349, 350, 351, 352, 354, 355, 357, 358, 360, 363, 366, 368, 370, 371, 372, 376, 392, 399, 401, 411, 412,
    413, 417, 419, 420, 423, 425, 426, 427, 429, 433, 437, 438, 439, 440, 446, 447, 448, 449, 450, 451, 452,
    453, 455, 456, 457, 458, 459, 460, 461, 462, 464, 465,
)  # fmt: skip

#: Eq. 5 triples (l, m, r) on the nose-tip line: nose tip 1, cheek, outer cheek near the ear (image left and
#: right). Template ratio d1/d2 = (z_m - z_l) / (z_r - z_l) ~ 0.42 on the Grace Hopper mesh.
DEPTH_TRIPLES: dict[str, tuple[int, int, int]] = {"left": (1, 205, 137), "right": (1, 425, 401)}

FUSION_RULES: tuple[str, ...] = ("network", "either_spoof", "logistic")
STATES: tuple[str, ...] = ("ok", "insufficient_motion", "no_face")


@dataclass(frozen=True)
class ParallaxConfig:
    """Settings of the cue. ``noise_px``: fixed per-coordinate landmark jitter sigma in pixels (None = the
    online estimate of :class:`ParallaxCue`, else ``max(noise_min_px, noise_rel * face_size)``)."""

    threshold: float = PARALLAX_THRESHOLD
    num_frames: int = 5  # Nf of the window
    frame_interval: int = 3  # the engine samples every 3rd frame
    noise_px: float | None = None
    noise_rel: float = 0.004  # default jitter sigma as a fraction of the face size (~0.7 px at 180 px)
    noise_min_px: float = 0.4
    min_motion_sigmas: float = 4.0  # motion gate in units of sigma ...
    min_motion_rel: float = 0.008  # ... and of the face size
    noise_margin: float = 4.0  # lambda: multiples of the expected jitter energy in the face-parallax term
    bend_allowance: bool = True  # fit the quadratic (bent sheet) parallax before the face relief
    landmarks: tuple[int, ...] = RIGID_LANDMARKS
    noise_history: int = 150  # frame pairs kept for the online jitter estimate
    noise_quantile: float = 0.25


@dataclass
class ParallaxResult:
    """Outcome of one window. ``score`` is None unless ``state == "ok"``."""

    state: str
    score: float | None = None
    residual_px: float = 0.0  # noise-corrected RMS homography residual (largest pair)
    motion_px: float = 0.0  # noise-corrected RMS non-similarity motion (largest pair)
    parallax_px: float = 0.0  # noise-corrected RMS face-shaped parallax (largest pair)
    noise_px: float = 0.0  # jitter sigma used
    face_size: float = 0.0
    depth_ratios: dict[str, float] = field(default_factory=dict)  # Eq. 5 median over pairs
    depth_ratio_spread: dict[str, float] = field(default_factory=dict)  # max - min over pairs
    pairs: int = 0
    threshold: float = PARALLAX_THRESHOLD

    @property
    def is_live(self) -> bool | None:
        """True / False when the cue has a verdict, None otherwise."""
        if self.state != "ok" or self.score is None:
            return None
        return bool(self.score >= self.threshold)


# ----------------------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------------------
def _similarity_residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b minus the least-squares similarity image of a (complex-number Umeyama in 2-D)."""
    ma, mb = a.mean(0), b.mean(0)
    za = (a[:, 0] - ma[0]) + 1j * (a[:, 1] - ma[1])
    zb = (b[:, 0] - mb[0]) + 1j * (b[:, 1] - mb[1])
    c = np.vdot(za, zb) / max(np.vdot(za, za).real, 1e-12)
    r = zb - c * za
    return np.stack([r.real, r.imag], axis=1)


def _homography_residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    H, _ = cv2.findHomography(a.astype(np.float64), b.astype(np.float64), 0)
    if H is None:
        return _similarity_residual(a, b)
    return b - cv2.perspectiveTransform(a[None].astype(np.float64), H)[0]


def _parallax_columns(x: np.ndarray, y: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Linearised plane + parallax design for one gamma basis: [rx; ry] = g (ex - ez x, ey - ez y)."""
    zero = np.zeros_like(gamma)
    top = np.stack([gamma, zero, -x * gamma], axis=1)
    bottom = np.stack([zero, gamma, -y * gamma], axis=1)
    return np.concatenate([top, bottom], axis=0)


def _residual_energy(design: np.ndarray, r: np.ndarray) -> float:
    if design.shape[1] == 0:
        return float(r @ r)
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    e = r - design @ coef
    return float(e @ e)


def _relief(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Face relief with its best quadratic surface removed (nose, eye sockets), unit RMS."""
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    coef, *_ = np.linalg.lstsq(basis, z, rcond=None)
    rel = z - basis @ coef
    return rel / max(float(np.sqrt(np.mean(rel**2))), 1e-9)


def _eq5_ratio(du: np.ndarray) -> float:
    """Eq. 5: d1/d2 = (du_l/du_m - 1) / (du_l/du_r - 1); NaN when undefined (Eq. 11-12: plane)."""
    du_l, du_m, du_r = (float(v) for v in du)
    if abs(du_m) < 1e-6 or abs(du_r) < 1e-6:
        return math.nan
    den = du_l / du_r - 1.0
    if abs(den) < 1e-3:
        return math.nan
    return (du_l / du_m - 1.0) / den


def _face_size(lm: np.ndarray) -> float:
    return float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1]), 1.0))


def estimate_parallax(
    window: Sequence[np.ndarray | None],
    face_size: float | None = None,
    config: ParallaxConfig | None = None,
    noise_px: float | None = None,
) -> ParallaxResult:
    """The cue on one window of landmark arrays (see the module docstring for the maths)."""
    cfg = config or ParallaxConfig()
    frames = [np.asarray(f, dtype=np.float64) for f in window if f is not None and len(f) > 0]
    if len(frames) < 2:
        return ParallaxResult(state="no_face", threshold=cfg.threshold)
    idx = np.asarray(cfg.landmarks, dtype=np.int64)
    ref = frames[0]
    size = float(face_size) if face_size else _face_size(ref)
    sigma = noise_px if noise_px is not None else cfg.noise_px
    if sigma is None:
        sigma = max(cfg.noise_min_px, cfg.noise_rel * size)
    sigma = float(sigma)

    a = ref[idx, :2]
    centre = a.mean(0)
    an = (a - centre) / size
    x, y = an[:, 0], an[:, 1]
    n = len(idx)
    quad = [x * x, x * y, y * y]
    quad_design = np.concatenate([_parallax_columns(x, y, g) for g in quad], axis=1)
    if ref.shape[1] >= 3 and np.ptp(ref[idx, 2]) > 1e-6:
        relief = _relief(x, y, (ref[idx, 2] - ref[idx, 2].mean()) / size)
    else:  # no z: nothing face-shaped to match, fall back to the planar misfit beyond the bend
        relief = None
    base = quad_design if cfg.bend_allowance else np.zeros((2 * n, 0))
    full = np.concatenate([base, _parallax_columns(x, y, relief)], axis=1) if relief is not None else None

    # Expected jitter energies (per point, px^2) of a frame pair: each coordinate difference has variance
    # 2 sigma^2; a fit with p parameters removes p of the 2n degrees of freedom.
    s2 = 2.0 * sigma**2
    noise_sim = s2 * (2 * n - 4) / n
    noise_h = s2 * (2 * n - 8) / n
    noise_f = s2 * 3.0 / n

    sum_s = sum_f = 0.0
    best = (-1.0, 0.0, 0.0, 0.0)  # (motion^2, motion, residual, parallax) of the largest pair
    ratios: dict[str, list[float]] = {k: [] for k in DEPTH_TRIPLES}
    for other in frames[1:]:
        b = other[idx, :2]
        bn = (b - centre) / size
        rs = _similarity_residual(an, bn)
        rh = _homography_residual(an, bn)
        rvec = np.concatenate([rh[:, 0], rh[:, 1]])
        e_h = float(rvec @ rvec)
        e_base = _residual_energy(base, rvec)
        e_full = _residual_energy(full, rvec) if full is not None else e_base
        s_k = float(np.sum(rs**2)) / n * size**2
        f_k = max(e_base - e_full, 0.0) / n * size**2
        if relief is None:
            f_k = e_base / n * size**2
            noise_fk = s2 * (2 * n - 8 - base.shape[1]) / n
        else:
            noise_fk = noise_f
        sum_s += s_k
        sum_f += f_k - cfg.noise_margin * noise_fk
        motion = math.sqrt(max(s_k - noise_sim, 0.0))
        if motion > best[1]:
            residual = math.sqrt(max(e_h / n * size**2 - noise_h, 0.0))
            best = (s_k, motion, residual, math.sqrt(max(f_k - noise_fk, 0.0)))
        for name, (il, im, ir) in DEPTH_TRIPLES.items():
            du = other[[il, im, ir], 0] - ref[[il, im, ir], 0]
            ratios[name].append(_eq5_ratio(du))

    depth_ratios, spread = {}, {}
    for name, vals in ratios.items():
        finite = [v for v in vals if math.isfinite(v)]
        depth_ratios[name] = float(np.median(finite)) if finite else math.nan
        spread[name] = float(max(finite) - min(finite)) if len(finite) > 1 else math.nan

    gate = max(cfg.min_motion_sigmas * sigma, cfg.min_motion_rel * size)
    result = ParallaxResult(
        state="ok",
        residual_px=best[2],
        motion_px=best[1],
        parallax_px=best[3],
        noise_px=sigma,
        face_size=size,
        depth_ratios=depth_ratios,
        depth_ratio_spread=spread,
        pairs=len(frames) - 1,
        threshold=cfg.threshold,
    )
    if best[1] < gate:
        result.state = "insufficient_motion"
        return result
    motion_energy = max(sum_s - (len(frames) - 1) * noise_sim, 1e-12)
    result.score = float(np.clip(math.sqrt(max(sum_f, 0.0) / motion_energy), 0.0, 1.0))
    return result


# ----------------------------------------------------------------------------------------------------------
# Stateful wrapper for the engine
# ----------------------------------------------------------------------------------------------------------
class ParallaxCue:
    """Keeps the landmark history of the primary face and an online jitter estimate.

    :meth:`update` once per camera frame; :meth:`evaluate` on a window. Jitter: for every pair of frames
    ``frame_interval`` apart, the homography residual over the rigid landmarks gives
    ``sigma = rms / sqrt(2 (2n - 8) / n)`` (pure jitter if the face was still); the estimate is the
    ``noise_quantile`` of the last ``noise_history`` values relative to the face size (the stillest pairs,
    where parallax adds least), times the current face size, never below ``noise_min_px``.
    """

    def __init__(self, config: ParallaxConfig | None = None):
        self.config = config or ParallaxConfig()
        self._history: collections.deque = collections.deque(
            maxlen=(self.config.num_frames - 1) * self.config.frame_interval + 1
        )
        self._sizes: collections.deque = collections.deque(maxlen=self._history.maxlen)
        self._noise_rel: collections.deque = collections.deque(maxlen=self.config.noise_history)

    def reset(self) -> None:
        """Forget the history (a new face / track); the jitter estimate is kept."""
        self._history.clear()
        self._sizes.clear()

    def update(self, landmarks: np.ndarray | None, face_size: float | None = None) -> None:
        """Add one frame's landmarks ((468, 2|3) pixels) or None when no face was found."""
        if landmarks is None:
            self._history.append(None)
            self._sizes.append(None)
            return
        lm = np.asarray(landmarks, dtype=np.float64)
        size = float(face_size) if face_size else _face_size(lm)
        k = self.config.frame_interval
        if len(self._history) >= k and self._history[-k] is not None:
            idx = np.asarray(self.config.landmarks)
            n = len(idx)
            r = _homography_residual(self._history[-k][idx, :2] / size, lm[idx, :2] / size)
            rms = math.sqrt(float(np.sum(r**2)) / n)
            self._noise_rel.append(rms / math.sqrt(2.0 * (2 * n - 8) / n))
        self._history.append(lm)
        self._sizes.append(size)

    def noise_px(self, face_size: float) -> float:
        """The jitter sigma for a face of this size (online estimate once 10 pairs are known)."""
        cfg = self.config
        if cfg.noise_px is not None:
            return float(cfg.noise_px)
        if len(self._noise_rel) >= 10:
            rel = float(np.quantile(np.asarray(self._noise_rel), cfg.noise_quantile))
        else:
            rel = cfg.noise_rel
        return max(cfg.noise_min_px, rel * face_size)

    def window(self) -> list[np.ndarray | None]:
        """The last ``num_frames`` frames of the history, ``frame_interval`` apart (oldest first)."""
        k = self.config.frame_interval
        hist = list(self._history)
        return hist[::-1][::k][: self.config.num_frames][::-1]

    def evaluate(
        self, window_landmarks: Sequence[np.ndarray | None] | None = None, face_size: float | None = None
    ) -> ParallaxResult:
        """The cue on ``window_landmarks`` (None = :meth:`window`)."""
        win = self.window() if window_landmarks is None else list(window_landmarks)
        if face_size is None and window_landmarks is None:
            face_size = next((s for s in reversed(self._sizes) if s is not None), None)
        first = next((f for f in win if f is not None), None)
        if first is None:
            return ParallaxResult(state="no_face", threshold=self.config.threshold)
        size = float(face_size) if face_size else _face_size(np.asarray(first))
        return estimate_parallax(win, size, self.config, noise_px=self.noise_px(size))


# ----------------------------------------------------------------------------------------------------------
# Fusion with the network
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FusionDecision:
    """``is_live`` verdict, the ``score`` it was taken on (compare with ``threshold``), and why."""

    is_live: bool
    score: float
    threshold: float
    rule: str
    used_parallax: bool
    reason: str


def fuse(
    network_score: float,
    network_threshold: float,
    parallax: ParallaxResult | None,
    rule: str = "either_spoof",
    *,
    parallax_threshold: float | None = None,
    coefficients: dict[str, float] | None = None,
) -> FusionDecision:
    """Combine the network's score with the parallax cue by ``rule`` (one of :data:`FUSION_RULES`; see the
    module docstring). Pure function: no state, no I/O."""
    if rule not in FUSION_RULES:
        raise ValueError(f"unknown fusion rule {rule!r}; expected one of {FUSION_RULES}")
    s_net, t_net = float(network_score), float(network_threshold)
    net_live = s_net >= t_net
    verdict = parallax is not None and parallax.state == "ok" and parallax.score is not None
    t_par = float(
        parallax_threshold
        if parallax_threshold is not None
        else (parallax.threshold if parallax is not None else PARALLAX_THRESHOLD)
    )
    if rule == "network" or not verdict:
        why = (
            "network only" if rule == "network" else f"no parallax verdict ({_state(parallax)}): network only"
        )
        return FusionDecision(net_live, s_net, t_net, rule, False, why)
    s_par = float(parallax.score)
    if rule == "either_spoof":
        par_live = s_par >= t_par
        if not net_live:
            why = "network says spoof"
        elif not par_live:
            why = f"planar motion: parallax {s_par:.2f} < {t_par:.2f}"
        else:
            why = "network and parallax say live"
        return FusionDecision(net_live and par_live, s_net, t_net, rule, True, why)
    c = {**LOGISTIC_COEFFICIENTS, **(coefficients or {})}
    logit = c["w_net"] * (s_net - t_net) + c["w_par"] * (s_par - t_par) + c["bias"]
    p = 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
    return FusionDecision(p >= 0.5, p, 0.5, rule, True, f"logistic p_live {p:.2f}")


def _state(parallax: ParallaxResult | None) -> str:
    return "none" if parallax is None else parallax.state


def with_threshold(result: ParallaxResult, threshold: float) -> ParallaxResult:
    """A copy of ``result`` judged at another threshold."""
    return replace(result, threshold=float(threshold))
