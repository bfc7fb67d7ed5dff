"""``run_gui(args)``: the QApplication, the dark theme and the main or kiosk window."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from livenessapp import __version__
from livenessapp.gui.settings import AppSettings
from livenessapp.gui.theme import apply_dark_theme

__all__ = ["create_app", "create_window", "run_gui", "show_full_screen"]


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused when one exists), named and themed."""
    app = QApplication.instance()
    if app is None:
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


def run_gui(args=None) -> int:
    """Open the desktop app (or the kiosk with ``args.kiosk``) and run the event loop; returns the exit
    code. A model or source that cannot be opened gives a message box and the app stays up."""
    app = create_app()
    window = create_window(args)
    if getattr(args, "kiosk", False):
        show_full_screen(window)
    else:
        window.resize(window.sizeHint())
        window.show()
    # start once the event loop runs, so that an error box has a visible parent
    QTimer.singleShot(0, window.start)
    return int(app.exec())
