"""The main window's recording for fine-tuning and its snapshots, as a mixin of :class:`MainWindow`.

Threads: :meth:`RecordingMixin._record_tap` is the bridge's frame tap; it runs in the engine's thread for
every frame (before coalescing) and only hands the frame to the :class:`~livenessapp.recording.ClipRecorder`,
which encodes on a thread of its own. A write error is kept and turned into a message box by the GUI
thread (``MainWindow._update_status``). Everything else here runs in the GUI thread.

The mixin uses the window's ``recorder``, ``last_clip``, ``running``, ``run_info``, ``last_frame``,
``video``, ``depth``, ``record_button``, ``label_combo``, ``captures_label``, ``settings``, ``start()``,
``model_name``, ``current_source`` and ``_error_box()``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cv2
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog

from livenessapp.gui.run_options import source_label
from livenessapp.recording import ClipRecorder, RecordedClip

__all__ = ["RecordingMixin"]


class RecordingMixin:
    """Recording (R), the captures folder and "Save panel + frame" (S) of the main window."""

    def _record_tap(self, event) -> None:
        """Called in the engine's thread for every frame (before coalescing): feed the recorder."""
        rec = self.recorder
        if rec is None:
            return
        frame = getattr(event, "frame", None)
        if frame is None and isinstance(event, dict):
            frame = event.get("frame")
        if frame is not None:
            try:
                rec.write(frame)
            except Exception as e:  # a full disk: stopped and reported by the GUI thread (_update_status)
                self._recording_failure = e

    @Slot()
    def toggle_recording(self) -> None:
        if self.recorder is None:
            self.start_recording()
        else:
            self.stop_recording()

    def start_recording(self) -> bool:
        if not self.running and not self.start():
            self.record_button.setChecked(False)
            return False
        try:
            self.recorder = ClipRecorder(
                self.captures_label.text(),
                self.label_combo.currentText(),
                camera=source_label(self.current_source),
                model_version=self.run_info.model_version,
                fps=self.run_info.fps or 30.0,
                extra={"model": self.model_name, "source": self.current_source},
            )
        except Exception as e:
            self.record_button.setChecked(False)
            self._error_box("Cannot record", e)
            return False
        self.record_button.setChecked(True)
        self.record_button.setText("Stop recording (R)")
        return True

    def stop_recording(self) -> RecordedClip | None:
        rec, self.recorder = self.recorder, None
        self.record_button.setChecked(False)
        self.record_button.setText("Record (R)")
        if rec is None:
            return None
        try:
            self.last_clip = rec.finish()
        except Exception as e:
            self._error_box("Recording failed", e)
            return None
        self.statusBar().showMessage(
            f"Saved {self.last_clip.video} ({self.last_clip.meta.frames} frames)", 8000
        )
        return self.last_clip

    @Slot()
    def choose_captures_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Captures folder", self.captures_label.text())
        if folder:
            self.captures_label.setText(folder)
            self.settings.set("captures_dir", folder)

    def save_depth_panel(self, folder: str | Path | None = None) -> list[Path]:
        """Save the depth panel and the current frame (raw and annotated) as PNG in the captures folder."""
        folder = Path(folder or self.captures_label.text()).expanduser() / "snapshots"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        saved = []
        if self.depth.panel is not None:
            p = folder / f"{stamp}-depth.png"
            if self.depth.panel.save(str(p)):
                saved.append(p)
        if self.last_frame is not None and self.last_frame.frame is not None:
            p = folder / f"{stamp}-frame.png"
            if cv2.imwrite(str(p), self.last_frame.frame):
                saved.append(p)
        if self.video.image is not None:
            p = folder / f"{stamp}-annotated.png"
            if self.video.image.save(str(p)):
                saved.append(p)
        self.statusBar().showMessage(
            f"Saved {len(saved)} image(s) to {folder}" if saved else "Nothing to save yet", 6000
        )
        return saved
