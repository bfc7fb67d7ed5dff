"""Smoothing of the per-window scores inside the pipeline (``EngineConfig.smoothing*``).

``smoothed`` is the exponential moving average ``s <- a * s + (1 - a) * score`` of the window scores
(``smoothing = a`` in [0, 1), 0 = off) or the mean of the last ``smoothing_window`` scores
(``mode="window"``); the pipeline restarts it with a new track. Not to be confused with
:class:`livenessapp.verdict.ScoreSmoother`, the GUI's own EMA (weight on the *new* value) for engines that
report raw scores only.
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["ScoreSmoother"]


class ScoreSmoother:
    """Exponential (``mode="ema"``, ``s <- a s + (1 - a) x``) or windowed mean (``mode="window"``)."""

    def __init__(self, alpha: float = 0.5, mode: str = "ema", window: int = 5):
        if mode not in ("ema", "window"):
            raise ValueError("smoothing mode must be 'ema' or 'window'")
        if not 0.0 <= alpha < 1.0:
            raise ValueError("smoothing must be in [0, 1)")
        self.alpha, self.mode = float(alpha), mode
        self._values: deque[float] = deque(maxlen=max(1, int(window)))
        self.value: float | None = None

    def reset(self) -> None:
        self._values.clear()
        self.value = None

    def update(self, x: float) -> float:
        x = float(x)
        if self.mode == "window":
            self._values.append(x)
            self.value = float(np.mean(self._values))
        else:
            self.value = x if self.value is None else self.alpha * self.value + (1.0 - self.alpha) * x
        return self.value
