"""The naming of a model group's files and their hash: the one rule the loader, the integrity check and
the exporter share.

A model NAME is ``NAME.onnx`` (the full graph) with ``NAME.encoder.onnx``, ``NAME.pair.onnx`` and
``NAME.temporal.onnx`` beside it (:func:`sibling_paths`) and its model card ``NAME.md``
(:func:`card_path`); :func:`file_sha256` is the hash the card lists. Imported by :mod:`livenessapp.model`
and :mod:`livenessapp.integrity` (which re-exports these names) and by ``liveness-train export``. pathlib +
hashlib only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["GRAPHS", "card_path", "file_sha256", "sibling_paths"]

GRAPHS = ("full", "encoder", "pair", "temporal")  # "pair": format 2 and later


def _stem(path: Path) -> str:
    return path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name


def sibling_paths(path: str | os.PathLike) -> dict[str, Path]:
    """The graph files of the model group of ``NAME.onnx`` (the one naming rule, shared with
    :mod:`livenessapp.model`): ``{"full": NAME.onnx, "encoder": NAME.encoder.onnx, "pair": NAME.pair.onnx,
    "temporal": NAME.temporal.onnx}``."""
    p = Path(path)
    stem = _stem(p)
    return {"full": p, **{g: p.with_name(f"{stem}.{g}.onnx") for g in GRAPHS[1:]}}


def card_path(model_path: str | os.PathLike) -> Path:
    """``NAME.md`` beside ``NAME.onnx``."""
    p = Path(model_path)
    return p.with_name(f"{_stem(p)}.md")


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
