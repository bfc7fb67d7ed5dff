"""Qt's platform plugin comes from PySide6 whatever cv2 did, and the main window fits a 1280x800 screen."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QRect, QSize  # noqa: E402

from livenessapp.gui.app import create_app, create_window, default_geometry, fit_to_screen  # noqa: E402
from livenessapp.gui.settings import AppSettings  # noqa: E402

_PROBE = """
import os, sys
order = sys.argv[1]
if order == "cv2-first":
    import cv2
    from PySide6.QtWidgets import QApplication
else:
    from PySide6.QtWidgets import QApplication
    import cv2
assert "cv2" in os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", ""), "cv2 no longer sets the plugin path"
if sys.argv[2] == "create_app":
    from livenessapp.gui.app import create_app
    app = create_app()
else:  # the control: what a bare QApplication does after cv2's import
    app = QApplication([])
print("PLUGIN_PATH", os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"])
print("PLATFORM", app.platformName())
"""


def _probe(order: str, how: str) -> tuple[str, list[str], str]:
    """Run the probe with Qt's plugin debugging on: (QT_QPA_PLATFORM_PLUGIN_PATH at the end, the folders
    Qt searched for plugins, the platform plugin it loaded)."""
    env = dict(os.environ, QT_DEBUG_PLUGINS="1", QT_QPA_PLATFORM="offscreen")
    env.pop("QT_PLUGIN_PATH", None)
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, order, how], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if line.startswith(("PLUGIN", "PLAT")))
    searched = [
        line.split('"')[1]
        for line in r.stderr.splitlines()
        if "checking directory path" in line and '"' in line
    ]
    loaded = [line.split('"')[1] for line in r.stderr.splitlines() if "loaded library" in line]
    platform = next((p for p in loaded if "/platforms/" in p), "")
    assert out["PLATFORM"] == "offscreen"
    return out["PLUGIN_PATH"], searched, platform


@pytest.mark.parametrize("order", ["cv2-first", "pyside6-first"])
def test_pyside6_loads_its_own_platform_plugins_whatever_the_import_order(order):
    import PySide6

    own = os.path.join(os.path.dirname(PySide6.__file__), "Qt", "plugins", "platforms")
    path, searched, platform = _probe(order, "create_app")
    assert os.path.samefile(path, own)
    assert searched and not [p for p in searched if "cv2" in p], searched
    assert platform and os.path.samefile(os.path.dirname(platform), own), platform


def test_the_probe_sees_cv2s_plugin_folder_without_the_fix():
    """The control: a bare QApplication after ``import cv2`` searches OpenCV's Qt 5 plugin folder (so the
    test above would see it, were create_app not to reset the variable)."""
    path, searched, _ = _probe("cv2-first", "bare")
    assert "cv2" in path
    assert [p for p in searched if "cv2" in p], searched


# -------------------------------------------------------------------------------------------- screen fit
@pytest.fixture
def window(tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("LIVENESSAPP_SETTINGS", str(tmp_path / "settings.ini"))
    create_app()
    win = create_window(None, AppSettings())
    qtbot.addWidget(win)
    yield win
    win.close()


def test_the_default_size_fits_a_1280x800_screen(window):
    minimum = window.minimumSizeHint()
    assert minimum.width() <= 1280 - 16 and minimum.height() <= 800 - 64  # room for panels and a frame
    rect = default_geometry(window.sizeHint(), minimum, QRect(0, 0, 1280, 800))
    assert QRect(0, 0, 1280, 800).contains(rect) and rect.size() == QSize(1280, 800)
    framed = default_geometry(window.sizeHint(), minimum, QRect(0, 27, 1280, 773), QSize(4, 30))
    assert framed.size() == QSize(1276, 743) and framed.top() >= 27
    roomy = default_geometry(window.sizeHint(), minimum, QRect(0, 0, 1920, 1080))
    assert roomy.size() == window.sizeHint() and roomy.center() == QRect(0, 0, 1920, 1080).center()


def test_every_dock_is_whole_at_1280x800(window, qtbot):
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    inside = window.rect()
    for dock in (window.controls_dock, window.depth_dock, window.score_dock):
        assert inside.contains(QRect(dock.mapTo(window, QPoint(0, 0)), dock.size())), dock.objectName()
        content = dock.widget()
        assert content.width() >= content.minimumSizeHint().width(), dock.objectName()
    button = window.save_panel_button
    assert inside.contains(QRect(button.mapTo(window, QPoint(0, 0)), button.size()))
    assert button.width() >= button.sizeHint().width()  # its text is not cut either


def test_a_saved_layout_is_kept_and_a_too_large_one_is_fitted(window):
    screen = QRect(0, 0, 1280, 800)
    window.setGeometry(40, 40, 1000, 700)
    fit_to_screen(window, keep=True, available=screen)
    assert window.geometry() == QRect(40, 40, 1000, 700)
    window.setGeometry(0, 0, 1600, 1000)  # saved on a larger screen
    fit_to_screen(window, keep=True, available=screen)
    assert screen.contains(window.frameGeometry()) and window.size() == QSize(1280, 800)
    fit_to_screen(window, available=QRect(0, 0, 1920, 1080))  # no saved layout: the default size
    assert window.size() == window.sizeHint()


def test_the_dock_layout_is_remembered_between_runs(window, tmp_path):
    window.resize(1100, 760)
    window.depth_dock.setFloating(True)
    window.close()  # saves geometry and dock state
    again = create_window(None, AppSettings())
    try:
        assert again.restored_geometry
        assert again.depth_dock.isFloating()
    finally:
        again.close()
