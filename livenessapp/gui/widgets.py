"""The desktop window's painting widgets, gathered: live video with overlays, the score panel, the depth
inspector.

All of them only paint: they receive finished numbers and arrays (from the engine, through the bridge) and
draw them with QPainter. No tracking, no inference here. They live in their own modules and stay
importable from here:

* :mod:`livenessapp.gui.video_view`: :class:`FrameOverlay`, :func:`paint_overlay`, :class:`VideoView`,
  :func:`hint_text`;
* :mod:`livenessapp.gui.score_panel`: :class:`ScorePlot`, :class:`CueMeters`;
* :mod:`livenessapp.gui.depth_inspector`: :func:`render_depth_panel`, :class:`DepthInspector`.
"""

from __future__ import annotations

from livenessapp.gui.depth_inspector import DepthInspector, render_depth_panel
from livenessapp.gui.score_panel import CueMeters, ScorePlot
from livenessapp.gui.video_view import HINT_TEXT, FrameOverlay, VideoView, hint_text, paint_overlay

__all__ = [
    "HINT_TEXT",
    "CueMeters",
    "DepthInspector",
    "FrameOverlay",
    "ScorePlot",
    "VideoView",
    "hint_text",
    "paint_overlay",
    "render_depth_panel",
]
