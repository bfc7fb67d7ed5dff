"""The only place where the engine's worker threads meet Qt.

The engine calls its listener from its own threads (capture / tracking / inference). :class:`EngineBridge`
is that listener: every callback only stores the event and emits a Qt signal. The bridge lives in the GUI
thread, so the signals reach the window through queued connections and every slot runs in the GUI thread,
which then only paints. Per-frame events are *coalesced*: when the GUI falls behind, only the newest frame
is delivered (a stale frame is never painted after a newer one) and the skipped ones are counted in
``frames_coalesced``; per-window results and errors are all delivered, in order.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal, Slot

__all__ = ["EngineBridge"]


class EngineBridge(QObject):
    """Thread-safe engine listener -> Qt signals (see the module docstring).

    Signals: ``frameReady(object)`` (newest per-frame event), ``windowReady(object)`` (per-window result),
    ``statsReady(object)`` (``EngineStats``), ``errorOccurred(object)`` (``EngineError``: ``message``,
    ``fatal``; or a plain string), ``sourceEnded(str)`` (the engine's end reason: ``"eof"``, ``"stopped"``,
    ``"error"``).
    """

    frameReady = Signal(object)
    windowReady = Signal(object)
    statsReady = Signal(object)
    errorOccurred = Signal(object)
    sourceEnded = Signal(str)
    _frameQueued = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest_frame = None
        self._pending = False
        self.frames_received = 0
        self.frames_coalesced = 0
        self.windows_received = 0
        self.gui_thread = threading.get_ident()
        #: called in the engine's thread with every frame event before coalescing (the recorder's feed)
        self.frame_tap = None
        # queued even when emitted from the GUI thread itself: the engine's call returns at once
        self._frameQueued.connect(self._deliver_frame, Qt.ConnectionType.QueuedConnection)

    # -- engine side (any thread) --------------------------------------------------------------------
    def on_frame(self, event) -> None:
        tap = self.frame_tap
        if tap is not None:
            try:
                tap(event)
            except Exception as e:  # never let a GUI-side consumer break the engine's thread
                self.errorOccurred.emit(f"frame consumer failed: {e}")
        with self._lock:
            self.frames_received += 1
            if self._pending:
                self.frames_coalesced += 1
            self._latest_frame = event
            pending, self._pending = self._pending, True
        if not pending:
            self._frameQueued.emit()

    def on_window(self, event) -> None:
        with self._lock:
            self.windows_received += 1
        self.windowReady.emit(event)

    def on_stats(self, event) -> None:
        self.statsReady.emit(event)

    def on_error(self, error) -> None:
        self.errorOccurred.emit(error)

    def on_end(self, reason: str = "eof") -> None:
        self.sourceEnded.emit(str(reason))

    # -- GUI side -------------------------------------------------------------------------------------
    @Slot()
    def _deliver_frame(self) -> None:
        with self._lock:
            event, self._latest_frame = self._latest_frame, None
            self._pending = False
        if event is not None:
            self.frameReady.emit(event)

    def connect_to(
        self,
        receiver_frame=None,
        receiver_window=None,
        receiver_error=None,
        receiver_end=None,
        receiver_stats=None,
    ) -> None:
        """Connect slots with explicit queued connections (GUI-thread delivery even for direct emitters)."""
        queued = Qt.ConnectionType.QueuedConnection
        if receiver_frame is not None:
            self.frameReady.connect(receiver_frame)  # emitted in the GUI thread already
        if receiver_window is not None:
            self.windowReady.connect(receiver_window, queued)
        if receiver_error is not None:
            self.errorOccurred.connect(receiver_error, queued)
        if receiver_end is not None:
            self.sourceEnded.connect(receiver_end, queued)
        if receiver_stats is not None:
            self.statsReady.connect(receiver_stats, queued)
