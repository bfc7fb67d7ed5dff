"""The naming of a model group's files (shared by the loader, the integrity check and the exporter)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import livenessapp.integrity as integrity
import livenessapp.model as model
from livenessapp.model_files import GRAPHS, card_path, file_sha256, sibling_paths


def test_group_names_and_card_beside_the_full_graph(tmp_path):
    paths = sibling_paths(tmp_path / "lite.onnx")
    assert list(paths) == list(GRAPHS)
    assert [p.name for p in paths.values()] == [
        "lite.onnx",
        "lite.encoder.onnx",
        "lite.pair.onnx",
        "lite.temporal.onnx",
    ]
    assert card_path(tmp_path / "lite.onnx") == tmp_path / "lite.md"
    assert card_path(Path("noext")).name == "noext.md"


def test_file_sha256_and_the_old_import_paths(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"livenessapp" * 200_000)  # more than one 1 MiB block
    assert file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert integrity.sibling_paths is model.sibling_paths is sibling_paths
    assert (integrity.GRAPHS, integrity.card_path, integrity.file_sha256) == (GRAPHS, card_path, file_sha256)
