"""The main window's keyboard shortcuts and menus.

:func:`build_actions` adds one :class:`QAction` per command (``window.act_start``, ``act_record``,
``act_save``, ``act_open``, ``act_demo``, ``act_full``, ``act_quit``, ``act_card``) bound to the window's
slots, and the File / View / Run menus; the View menu also toggles the docks. Call it after
:func:`livenessapp.gui.main_panels.build_panels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QPushButton

if TYPE_CHECKING:
    from livenessapp.gui.main_window import MainWindow

__all__ = ["build_actions"]


def build_actions(window: MainWindow) -> None:
    """The window's shortcuts (Space, R, S, O, D, F, Ctrl+Q) and its File / View / Run menus."""

    def action(text: str, shortcut, slot, checkable: bool = False) -> QAction:
        a = QAction(text, window)
        a.setShortcut(QKeySequence(shortcut))
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.triggered.connect(slot)
        a.setCheckable(checkable)
        window.addAction(a)
        return a

    window.act_start = action("Start / stop", Qt.Key.Key_Space, window.toggle_running)
    window.act_record = action("Record", Qt.Key.Key_R, window.toggle_recording)
    window.act_save = action(
        "Save depth panel", Qt.Key.Key_S, lambda _checked=False: window.save_depth_panel()
    )
    window.act_open = action("Open video file…", Qt.Key.Key_O, window.open_file)
    window.act_demo = action("Demo clip", Qt.Key.Key_D, window.open_demo)
    window.act_full = action("Full screen", Qt.Key.Key_F, window.toggle_full_screen)
    window.act_quit = action("Quit", QKeySequence.StandardKey.Quit, window.close)
    window.act_quit.setShortcut(QKeySequence("Ctrl+Q"))
    window.act_card = action("Model card…", QKeySequence(), window.show_model_card)
    menu = window.menuBar()
    m = menu.addMenu("&File")
    for a in (window.act_open, window.act_demo, window.act_save, window.act_record):
        m.addAction(a)
    m.addSeparator()
    m.addAction(window.act_quit)
    m = menu.addMenu("&View")
    m.addAction(window.act_full)
    for dock in (window.controls_dock, window.depth_dock, window.score_dock):
        m.addAction(dock.toggleViewAction())
    m = menu.addMenu("&Run")
    m.addAction(window.act_start)
    m.addAction(window.act_card)
    # the buttons must not swallow Space (a focused QPushButton would click itself)
    for b in window.findChildren(QPushButton):
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
