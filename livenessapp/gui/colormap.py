"""Perceptual colormaps for depth maps without matplotlib: viridis and magma from compact hard-coded LUTs.

Each map is stored as 33 evenly spaced sRGB key colours (sampled from matplotlib's definitions, which are
CC0) and linearly interpolated to 256 entries; the result differs from matplotlib's 256-entry tables by
at most ~3/255 per channel (checked in ``tests/app/test_gui_widgets.py``). numpy only, no Qt.
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["COLORMAPS", "apply_colormap", "lut"]

_KEYS = {
    "viridis": "440154 470d60 48186a 482374 472d7b 453781 424086 3e4989 3b528b 375b8d 33638d 2f6b8e 2c728e "
    "297a8e 26828e 23898e 21918c 1f988b 1fa088 22a785 28ae80 32b67a 3fbc73 4ec36b 5ec962 70cf57 84d44b "
    "98d83e addc30 c2df23 d8e219 ece51b fde725",
    "magma": "000004 030312 0a0822 130d34 1d1147 29115a 36106b 440f76 51127c 5d177f 6a1c81 762181 832681 "
    "902a81 9c2e7f aa337d b73779 c43c75 d0416f dc4869 e75263 ef5d5e f56b5c f9795d fc8961 fd9869 fea772 "
    "feb67c fec488 fed395 fde2a3 fcf0b2 fcfdbf",
}
COLORMAPS = tuple(_KEYS)


@cache
def lut(name: str = "viridis") -> np.ndarray:
    """The 256x3 uint8 RGB table of colormap ``name`` (read-only)."""
    if name not in _KEYS:
        raise ValueError(f"unknown colormap {name!r}; known: {COLORMAPS}")
    keys = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in _KEYS[name].split()], np.float64)
    xs = np.linspace(0.0, 1.0, len(keys))
    grid = np.arange(256) / 255.0
    table = np.stack([np.interp(grid, xs, keys[:, c]) for c in range(3)], axis=1)
    table = np.round(table).astype(np.uint8)
    table.setflags(write=False)
    return table


def apply_colormap(
    values: np.ndarray, name: str = "viridis", vmin: float = 0.0, vmax: float = 1.0
) -> np.ndarray:
    """Map a float array (any shape) to RGB uint8 (``shape + (3,)``); values are clipped to [vmin, vmax],
    NaN maps to vmin."""
    v = np.asarray(values, dtype=np.float32)
    scale = 255.0 / max(vmax - vmin, 1e-12)
    idx = np.nan_to_num((v - vmin) * scale, nan=0.0, posinf=255.0, neginf=0.0)
    idx = np.clip(np.rint(idx), 0, 255).astype(np.uint8)
    return lut(name)[idx]
