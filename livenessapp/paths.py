"""Where the bundled model and demo clip live.

The app is installed from a clone (``pip install -e .``), so the bundled ``models/`` and ``assets/`` folders
sit next to the package. ``LIVENESSAPP_HOME`` points elsewhere (e.g. a kiosk image that copies them).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("LIVENESSAPP_HOME", Path(__file__).resolve().parents[1]))
MODELS_DIR = PROJECT_ROOT / "models"
ASSETS_DIR = PROJECT_ROOT / "assets"
DEMO_CLIP = ASSETS_DIR / "demo.mp4"
DEFAULT_MODEL_NAME = "sgtd-lite"


def default_model_path() -> Path:
    """The model the app loads when none is named: ``models/sgtd-lite.onnx``."""
    return MODELS_DIR / f"{DEFAULT_MODEL_NAME}.onnx"


def list_models(folder: Path = MODELS_DIR) -> list[Path]:
    """Full-graph models in ``folder`` (the streaming ``*.encoder.onnx`` / ``*.pair.onnx`` / ``*.temporal.onnx`` siblings excluded)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob("*.onnx")
        if not p.name.endswith((".encoder.onnx", ".pair.onnx", ".temporal.onnx"))
    )
