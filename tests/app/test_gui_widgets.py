"""The GUI's painting pieces on their own: colormap LUTs, overlays, depth panel, score plot, bridge, settings."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from livenessapp.gui.bridge import EngineBridge  # noqa: E402
from livenessapp.gui.colormap import COLORMAPS, apply_colormap, lut  # noqa: E402
from livenessapp.gui.qtimage import bgr_to_qimage, qimage_to_rgb  # noqa: E402
from livenessapp.gui.settings import AppSettings  # noqa: E402
from livenessapp.gui.widgets import (  # noqa: E402
    DepthInspector,
    FrameOverlay,
    ScorePlot,
    hint_text,
    paint_overlay,
    render_depth_panel,
)
from livenessapp.verdict import Verdict  # noqa: E402


@pytest.mark.parametrize("name", COLORMAPS)
def test_lut_matches_matplotlib_within_3_levels(name):
    matplotlib = pytest.importorskip("matplotlib")
    ref = np.array([matplotlib.colormaps[name](i / 255)[:3] for i in range(256)]) * 255
    table = lut(name)
    assert table.shape == (256, 3) and table.dtype == np.uint8
    assert np.abs(table.astype(float) - ref).max() <= 3.5
    # perceptual maps: lightness (here: luma) rises monotonically
    luma = table @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) > -1.0)


def test_apply_colormap_clips_and_handles_nan():
    rgb = apply_colormap(np.array([[-1.0, 0.0], [1.0, np.nan]]), "viridis")
    assert rgb.shape == (2, 2, 3)
    assert (rgb[0, 0] == lut()[0]).all() and (rgb[1, 0] == lut()[255]).all() and (rgb[1, 1] == lut()[0]).all()
    with pytest.raises(ValueError):
        lut("jet")


def test_qimage_round_trip(grace_hopper_bgr):
    img = bgr_to_qimage(grace_hopper_bgr)
    assert (img.width(), img.height()) == (grace_hopper_bgr.shape[1], grace_hopper_bgr.shape[0])
    assert np.array_equal(qimage_to_rgb(img), grace_hopper_bgr[..., ::-1])


@pytest.mark.parametrize("verdict, channel", [(Verdict.LIVE, 1), (Verdict.SPOOF, 0)])
def test_overlay_box_colour_follows_the_verdict(qtbot, verdict, channel):
    frame = np.zeros((240, 320, 3), np.uint8)
    img = paint_overlay(
        bgr_to_qimage(frame), FrameOverlay(box=(100, 60, 220, 200), verdict=verdict, score=0.7)
    )
    rgb = qimage_to_rgb(img)
    edge = rgb[130, 98:103].astype(int)  # the left edge of the box
    strongest = edge.max(axis=0)
    assert strongest[channel] > 150 and strongest[channel] == strongest.max()


def test_overlay_shows_collecting_and_hints(qtbot):
    frame = np.zeros((240, 320, 3), np.uint8)
    plain = qimage_to_rgb(bgr_to_qimage(frame))
    img = qimage_to_rgb(
        paint_overlay(bgr_to_qimage(frame), FrameOverlay(fill=2, num_frames=5, hint="no_face"))
    )
    assert (img != plain).any(axis=2)[:40].sum() > 50  # "collecting 2/5 frames" at the top
    assert (img != plain).any(axis=2)[-40:].sum() > 50  # "no face" at the bottom
    assert hint_text("multiple_faces") == "several faces" and hint_text("too_small") == "move closer"
    assert hint_text("ok") == "" and hint_text("looking_away") == "looking away"


def test_depth_panel_has_figure7_layout(qtbot):
    nf, d = 5, 32
    yy, xx = np.mgrid[:d, :d]
    bump = np.clip(1 - ((xx - 16) ** 2 + (yy - 16) ** 2) / 150, 0, 1).astype(np.float32)
    crops = [np.full((64, 64, 3), 200, np.uint8)] * nf
    img = render_depth_panel(
        crops, np.stack([bump] * nf), np.stack([bump] * (nf - 1)), (np.stack([bump] * nf) > 0), tile=64
    )
    rgb = qimage_to_rgb(img)
    assert img.width() > nf * 64 and img.height() > 3 * 64
    # the viridis yellow of the nose tip (depth 1) appears, so does the dark purple of the background
    yellow = np.all(np.abs(rgb.astype(int) - lut()[255].astype(int)) < 12, axis=2).sum()
    purple = np.all(np.abs(rgb.astype(int) - lut()[0].astype(int)) < 12, axis=2).sum()
    assert yellow > 20 and purple > 200
    w = DepthInspector()
    qtbot.addWidget(w)
    w.set_window(crops, np.stack([bump] * nf), np.stack([bump] * (nf - 1)), None, title="window 1")
    assert w.panel is not None and w.windows_shown == 1
    w.resize(600, 360)
    assert not w.grab().isNull()


def test_score_plot_keeps_the_last_span(qtbot):
    plot = ScorePlot(span_s=10.0)
    qtbot.addWidget(plot)
    plot.resize(400, 160)
    for i in range(100):
        plot.add(float(i), 0.5 + 0.4 * np.sin(i / 5), 0.6, 0.3)
    assert plot.points[0][0] >= 99 - 11 and len(plot.points) <= 12
    plot.set_threshold(0.42)
    assert not plot.grab().isNull()


def test_bridge_delivers_worker_thread_events_in_the_gui_thread(qtbot):
    bridge = EngineBridge()
    got_frames, got_windows, threads = [], [], []
    bridge.connect_to(
        lambda e: (got_frames.append(e), threads.append(threading.get_ident())),
        lambda e: (got_windows.append(e), threads.append(threading.get_ident())),
    )
    tapped = []
    bridge.frame_tap = lambda e: tapped.append(threading.get_ident())

    def worker():
        for i in range(200):
            bridge.on_frame({"index": i})
            if i % 50 == 0:
                bridge.on_window({"index": i})

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    qtbot.waitUntil(
        lambda: len(got_windows) == 4 and got_frames and got_frames[-1]["index"] == 199, timeout=5000
    )
    gui = threading.get_ident()
    assert set(threads) == {gui}
    assert len(tapped) == 200 and gui not in tapped  # the recorder's tap runs in the engine's thread
    assert len(got_frames) + bridge.frames_coalesced == 200  # coalesced, never reordered
    assert [f["index"] for f in got_frames] == sorted(f["index"] for f in got_frames)


def test_settings_use_the_given_file_and_keep_types(tmp_path):
    path = tmp_path / "s.ini"
    s = AppSettings(path)
    assert s.get("smoothing") == 0.5 and s.get("kiosk/save_images") is False
    s.set("smoothing", 0.25)
    s.set("kiosk/save_images", True)
    s.set_threshold_for("sgtd-lite", 0.61)
    s.sync()
    t = AppSettings(path)
    assert t.get("smoothing") == 0.25 and t.get("kiosk/save_images") is True
    assert t.threshold_for("sgtd-lite") == pytest.approx(0.61) and t.threshold_for("other") is None
    assert t.file_name == str(path)


def test_adapter_reads_the_engine_events():
    from livenessapp.engine import FrameResult
    from livenessapp.gui.adapter import frame_info, window_info

    fr = FrameResult(
        index=3,
        timestamp_s=0.1,
        frame=np.zeros((4, 4, 3), np.uint8),
        box=(1, 2, 3, 4),
        landmarks=None,
        num_faces=2,
        hint="several faces - only the largest, most central one is judged",
        hint_code="SEVERAL_FACES",
        fill=2,
        num_frames=5,
        track_id=1,
        sampled=True,
        fps=29.0,
        capture_fps=30.0,
        dropped=7,
        tracking_ms=5.5,
        encoder_ms=1.0,
    )
    f = frame_info(fr)
    assert (f.index, f.box, f.num_faces, f.fill, f.num_frames, f.dropped) == (
        3,
        (1.0, 2.0, 3.0, 4.0),
        2,
        2,
        5,
        7,
    )
    assert hint_text(f.hint) == "several faces" and f.tracking_ms == 5.5
    assert frame_info({"frame": None, "hint_code": "OK"}).hint == ""

    class Fusion:
        reason = "planar motion"

    ev = {
        "index": 1,
        "depth_single": np.zeros((5, 8, 8)),
        "depth_fusion": np.zeros((4, 1, 8, 8)),
        "masks": np.ones((5, 8, 8)),
        "p_live": 0.9,
        "depth_score": None,
        "score": 0.8,
        "smoothed": 0.7,
        "live": False,
        "verdict": "spoof",
        "fusion": Fusion(),
        "timings": {"inference_ms": 12.5},
        "crops": [],
    }
    w = window_info(ev)
    assert w.depth_single.shape == (5, 8, 8) and w.depth_fusion.shape == (4, 8, 8)
    assert (w.live, w.reason, w.inference_ms, w.smoothed, w.depth_score) == (
        False,
        "planar motion",
        12.5,
        0.7,
        None,
    )


def test_adapter_reads_the_parallax_cue_and_the_fusion():
    from livenessapp.gui.adapter import PARALLAX_STATE_TEXT, WindowInfo, cue_rows, window_info
    from livenessapp.parallax import FusionDecision, ParallaxResult

    def event(par, fusion, live):
        common = {"score": 0.8, "smoothed": 0.7, "threshold": 0.5, "network_live": True}
        return {**common, "live": live, "parallax": par, "fusion": fusion}

    planar = window_info(
        event(
            ParallaxResult(state="ok", score=0.12, threshold=0.29),
            FusionDecision(False, 0.7, 0.5, "either_spoof", True, "planar motion: parallax 0.12 < 0.29"),
            False,
        )
    )
    assert (planar.parallax_state, planar.parallax_score, planar.parallax_threshold) == ("ok", 0.12, 0.29)
    assert (
        planar.parallax_live is False and planar.network_live is True and planar.fusion_rule == "either_spoof"
    )
    rows = {r.key: r for r in cue_rows(planar)}
    assert list(rows) == ["score", "p_live", "depth", "parallax"]
    assert rows["parallax"].value == 0.12 and rows["parallax"].threshold == 0.29
    assert rows["parallax"].note == PARALLAX_STATE_TEXT["planar"] and rows["parallax"].passed is False
    assert rows["score"].passed is True and rows["score"].note == "raw 0.80"

    still = window_info(
        event(
            ParallaxResult(state="insufficient_motion", threshold=0.29),
            FusionDecision(True, 0.7, 0.5, "logistic", False, "no parallax verdict"),
            True,
        )
    )
    rows = {r.key: r for r in cue_rows(still)}
    assert rows["parallax"].value is None and rows["parallax"].note == "not enough motion"
    assert rows["fused"].note.startswith("no parallax verdict")  # the logistic rule adds its own meter
    par = {"state": "ok", "score": 0.41, "threshold": 0.29}  # plain dicts work as well as the dataclasses
    live = window_info(
        event(par, {"rule": "logistic", "score": 0.83, "threshold": 0.5, "used_parallax": True}, True)
    )
    rows = {r.key: r for r in cue_rows(live)}
    assert (
        rows["parallax"].note == "non-planar (3-D)" and rows["fused"].value == 0.83 and rows["fused"].passed
    )
    # no window yet: empty meters with the thresholds; a window without the cue says "off"
    assert {r.key: r.note for r in cue_rows(WindowInfo(threshold=0.5))}["parallax"] == ""
    assert {r.key: r.note for r in cue_rows(window_info({"score": 0.5}))}["parallax"] == "off"


def test_cue_meters_paint_values_and_thresholds(qtbot):
    from livenessapp.gui.adapter import CueRow
    from livenessapp.gui.qtimage import qimage_to_rgb
    from livenessapp.gui.theme import COLORS
    from livenessapp.gui.widgets import CueMeters

    meters = CueMeters()
    qtbot.addWidget(meters)
    meters.resize(420, 100)
    meters.set_rows(
        [
            CueRow("score", "network score", 0.7, 0.5, "raw 0.80", True),
            CueRow("parallax", "parallax", 0.9, 0.29, "non-planar (3-D)", True),
        ]
    )
    assert meters.height() == 2 * CueMeters.ROW_H + 4
    assert "parallax 0.90 non-planar (3-D)" in meters.text().splitlines()
    rgb = qimage_to_rgb(meters.grab().toImage()).astype(int)
    blue = np.array(COLORS["parallax"].getRgb()[:3])
    assert (np.abs(rgb - blue).sum(axis=2) < 30).sum() > 100  # the parallax bar is filled
    meters.set_rows([CueRow("parallax", "parallax", None, 0.29, "not enough motion")])
    assert meters.row("parallax").value is None and "parallax – not enough motion" in meters.text()


def test_score_plot_draws_the_parallax_series(qtbot):
    from livenessapp.gui.qtimage import qimage_to_rgb
    from livenessapp.gui.theme import COLORS

    plot = ScorePlot(span_s=10.0)
    qtbot.addWidget(plot)
    plot.resize(400, 180)
    plot.set_parallax_threshold(None)
    blue = np.array(COLORS["parallax"].getRgb()[:3])

    def blue_pixels():
        rgb = qimage_to_rgb(plot.grab().toImage()).astype(int)[30:]  # below the legend
        return (np.abs(rgb - blue).sum(axis=2) < 40).sum()

    for i in range(20):
        plot.add(float(i) / 2, 0.6, 0.6, 0.3)
    without = blue_pixels()
    for i in range(20, 40):  # a verdict every other window: the line has gaps, the dots stay
        plot.add(float(i) / 2, 0.6, 0.6, 0.3, 0.8 if i % 2 else None)
    assert len(plot.points[-1]) == 5 and plot.points[-1][4] == 0.8
    assert blue_pixels() > without + 20
    plot.set_parallax_threshold(0.29)
    assert plot.parallax_threshold == 0.29 and not plot.grab().isNull()


def test_settings_keep_the_fusion_rule(tmp_path):
    s = AppSettings(tmp_path / "s.ini")
    assert s.fusion_rule == "either_spoof"
    s.set("fusion_rule", "logistic")
    assert AppSettings(tmp_path / "s.ini").fusion_rule == "logistic"
    s.set("fusion_rule", "bogus")  # a hand-edited file: back to the default, no crash
    assert s.fusion_rule == "either_spoof"


def test_overlay_detail_and_depth_title_texts():
    from livenessapp.gui.adapter import PARALLAX_STATE_TEXT, WindowInfo, depth_title, overlay_detail

    assert overlay_detail(None) == "" and overlay_detail(WindowInfo()) == ""  # before a window / cue off
    planar = WindowInfo(parallax_state="ok", parallax_score=0.12, parallax_threshold=0.29)
    assert overlay_detail(planar) == f"parallax 0.12: {PARALLAX_STATE_TEXT['planar']}"
    overruled = WindowInfo(**vars(planar) | {"live": False, "network_live": True, "reason": "planar motion"})
    assert overlay_detail(overruled) == "planar motion"  # the fusion differs from the network: say why
    w = WindowInfo(index=7, score=0.8123, p_live=0.7, depth_score=0.6, parallax_state="no_face")
    assert depth_title(w) == "window 7   score 0.812   p_live 0.700   depth 0.600   parallax –"
    assert (
        depth_title(WindowInfo(index=2, parallax_state="ok", parallax_score=0.31))
        == "window 2   parallax 0.310"
    )
