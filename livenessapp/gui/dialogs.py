"""Dialogs of the main window: the model card viewer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

__all__ = ["ModelCardDialog"]


class ModelCardDialog(QDialog):
    def __init__(self, model_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Model card: {model_path.stem}")
        self.resize(720, 640)
        card = model_path.with_suffix(".md")
        view = QTextBrowser(self)
        view.setOpenExternalLinks(True)
        if card.is_file():
            view.setMarkdown(card.read_text(encoding="utf-8"))
        else:
            view.setPlainText(f"No model card next to the model ({card.name} not found).")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(view)
        layout.addWidget(buttons)
        self.text = view
