"""numpy <-> QImage conversions (always copying, so the QImage never points at a freed buffer)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

__all__ = ["bgr_to_qimage", "gray_to_qimage", "qimage_to_rgb", "rgb_to_qimage"]


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """HxWx3 uint8 RGB -> QImage (Format_RGB888, deep copy)."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def bgr_to_qimage(bgr: np.ndarray) -> QImage:
    """HxWx3 uint8 BGR (OpenCV) or HxW grey -> QImage (deep copy)."""
    if bgr.ndim == 2:
        return gray_to_qimage(bgr)
    return rgb_to_qimage(np.ascontiguousarray(bgr[..., 2::-1]))


def gray_to_qimage(gray: np.ndarray) -> QImage:
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = gray.shape
    return QImage(gray.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """QImage -> HxWx3 uint8 RGB (tests and tools)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()
