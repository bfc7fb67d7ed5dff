"""``run_gui(args)``: the QApplication, the dark theme and the main or kiosk window."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QLibraryInfo, QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from livenessapp import __version__
from livenessapp.gui.settings import AppSettings
from livenessapp.gui.theme import apply_dark_theme

__all__ = [
    "create_app",
    "create_window",
    "default_geometry",
    "fit_to_screen",
    "own_platform_plugin_path",
    "run_gui",
    "show_full_screen",
    "use_own_qt_plugins",
]


def own_platform_plugin_path() -> str:
    """PySide6's own platform plugin folder (``.../PySide6/Qt/plugins/platforms``)."""
    return os.path.join(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath), "platforms")


def use_own_qt_plugins() -> str:
    """Point ``QT_QPA_PLATFORM_PLUGIN_PATH`` at PySide6's own platform plugins and return that folder.

    OpenCV's wheel (pulled in by MediaPipe) sets the variable to its bundled Qt 5 plugins
    (``cv2/qt/plugins``) whenever ``cv2`` is imported, before or after PySide6; Qt 6 would then search
    there first and, when its own xcb plugin cannot load, report the failure against OpenCV's folder. The
    variable is read when the QGuiApplication is constructed, so :func:`create_app` calls this right
    before, whatever the import order was."""
    path = own_platform_plugin_path()
    os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"] = path
    return path


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused when one exists), named and themed; loads PySide6's own platform plugin
    (:func:`use_own_qt_plugins`)."""
    app = QApplication.instance()
    if app is None:
        use_own_qt_plugins()
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("livenessapp")
    app.setOrganizationName("livenessapp")
    app.setApplicationVersion(__version__)
    apply_dark_theme(app)
    return app


def create_window(args=None, settings: AppSettings | None = None, controller=None):
    """The main window, or the kiosk window with ``args.kiosk``; not shown, not started."""
    settings = settings or AppSettings()
    if getattr(args, "kiosk", False):
        from livenessapp.gui.kiosk_window import KioskWindow

        return KioskWindow(settings, args, controller)
    from livenessapp.gui.main_window import MainWindow

    return MainWindow(settings, args, controller)


def show_full_screen(window) -> None:
    """Full screen on the primary screen, also without a window manager (a bare X server / Xvfb kiosk)."""
    screen = QApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(screen.geometry())
    window.setWindowState(Qt.WindowState.WindowFullScreen)
    window.showFullScreen()


def default_geometry(hint: QSize, minimum: QSize, available: QRect, frame: QSize | None = None) -> QRect:
    """The window's default geometry on a screen whose available area is ``available``: its size hint,
    shrunk to fit (together with the window-manager frame ``frame``, but never below ``minimum``), centred."""
    frame = frame or QSize(0, 0)
    size = hint.boundedTo(available.size() - frame).expandedTo(minimum)
    rect = QRect(0, 0, size.width(), size.height())
    rect.moveCenter(available.center())
    rect.moveTop(max(available.top(), rect.top()))
    rect.moveLeft(max(available.left(), rect.left()))
    return rect


def fit_to_screen(window: QWidget, keep: bool = False, available: QRect | None = None) -> None:
    """Give ``window`` its :func:`default_geometry` on its screen (``available``: the screen's available
    area); with ``keep`` only when its current (e.g. restored) frame does not fit there. Call again once
    shown: the frame that a window manager adds is only known then."""
    if available is None:
        screen = window.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
    frame = window.frameGeometry().size() - window.geometry().size()
    if keep and available.contains(window.frameGeometry()):
        return
    rect = default_geometry(window.sizeHint(), window.minimumSizeHint(), available, frame)
    window.resize(rect.size())
    window.move(rect.topLeft())


def run_gui(args=None) -> int:
    """Open the desktop app (or the kiosk with ``args.kiosk``) and run the event loop; returns the exit
    code. A model or source that cannot be opened gives a message box and the app stays up."""
    app = create_app()
    window = create_window(args)
    if getattr(args, "kiosk", False):
        show_full_screen(window)
    else:
        # the default size fits the screen (1280x800 included); a layout the user saved is kept
        fit_to_screen(window, keep=bool(getattr(window, "restored_geometry", False)))
        window.show()
        QTimer.singleShot(300, lambda: fit_to_screen(window, keep=True))  # the WM's frame is known now
    # start once the event loop runs, so that an error box has a visible parent
    QTimer.singleShot(0, window.start)
    return int(app.exec())
