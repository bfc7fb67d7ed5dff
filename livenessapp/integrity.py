"""Model integrity: the SHA-256 of every graph file checked against the model card before loading.

``liveness-train export`` writes ``NAME.md`` beside ``NAME.onnx`` with a table of the files and their
SHA-256 (``training/export_cli.py``, ``model_card``)::

    | file | SHA-256 |
    |---|---|
    | `NAME.onnx` | `3f2a...` |
    | `NAME.encoder.onnx` | `9b1c...` |
    | `NAME.temporal.onnx` | `07de...` |

:func:`verify_model_card` hashes the graph files of the group and compares. Outcomes (:class:`CardStatus`):

- ``ok``: every graph of the group is listed and matches;
- ``mismatch``: a listed file's hash differs (modified or damaged after export, or the card belongs to
  another export): :func:`check_model` refuses it with :class:`IntegrityError` unless
  ``allow_unverified`` (the ``--allow-unverified`` flag);
- ``missing-card``: no ``NAME.md`` beside the model: a warning, the model runs unverified;
- ``incomplete``: the card lists none or only some of the graphs: a warning, as for a missing card.

This detects damage and accidental swaps, not a deliberate forgery (whoever can replace the model can
replace its card). No onnxruntime, no torch: the files' naming and hash come from
:mod:`livenessapp.model_files` (``GRAPHS``, ``sibling_paths``, ``card_path`` and ``file_sha256`` are
re-exported here); only :func:`load_verified_model` imports :mod:`livenessapp.model`, when called.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from livenessapp.model_files import GRAPHS, card_path, file_sha256, sibling_paths

__all__ = [
    "GRAPHS",
    "CardStatus",
    "IntegrityError",
    "IntegrityResult",
    "card_path",
    "check_model",
    "file_sha256",
    "group_files",
    "load_verified_model",
    "read_card_hashes",
    "sibling_paths",
    "verify_model_card",
]

_ROW = re.compile(r"^\s*\|\s*`([^`/\\]+)`\s*\|\s*`([0-9a-fA-F]{64})`\s*\|")


class IntegrityError(RuntimeError):
    """The model's files do not match the SHA-256 of its model card."""


class CardStatus(str, Enum):
    OK = "ok"
    MISMATCH = "mismatch"
    MISSING_CARD = "missing-card"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class IntegrityResult:
    """What :func:`verify_model_card` found (``message``: one sentence for the user, "" when ok)."""

    status: CardStatus
    model: Path
    card: Path
    actual: dict[str, str] = field(default_factory=dict)  # file name -> SHA-256 of the file on disk
    expected: dict[str, str] = field(default_factory=dict)  # file name -> SHA-256 in the card
    mismatched: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is CardStatus.OK

    @property
    def sha256(self) -> str:
        """SHA-256 of the full graph ``NAME.onnx`` (the model's identity in logs)."""
        return self.actual.get(self.model.name, "")

    def to_json(self) -> dict:
        return {
            "status": self.status.value,
            "card": os.fspath(self.card),
            "sha256": self.sha256,
            "mismatched": list(self.mismatched),
            "unlisted": list(self.unlisted),
        }


def group_files(model_path: str | os.PathLike) -> list[Path]:
    """The graph files a model group may have, in :data:`GRAPHS` order (only those that exist are checked)."""
    return list(sibling_paths(model_path).values())


def read_card_hashes(card: str | os.PathLike) -> dict[str, str]:
    """``{file name: sha256}`` from the card's files table (lower-case hex)."""
    hashes: dict[str, str] = {}
    for line in Path(card).read_text(encoding="utf-8", errors="replace").splitlines():
        m = _ROW.match(line)
        if m:
            hashes[m.group(1)] = m.group(2).lower()
    return hashes


def verify_model_card(model_path: str | os.PathLike, extra_files: tuple[str, ...] = ()) -> IntegrityResult:
    """Hash the group's graph files (plus any other file the card lists that exists beside it, and
    ``extra_files``) and compare with the card. Missing graph files are left to the model loader."""
    model = Path(model_path).expanduser()
    card = card_path(model)
    files = [p for p in group_files(model) if p.is_file()]
    files += [model.with_name(n) for n in extra_files if model.with_name(n).is_file()]
    if not card.is_file():
        actual = {p.name: file_sha256(p) for p in files}
        return IntegrityResult(
            CardStatus.MISSING_CARD,
            model,
            card,
            actual=actual,
            message=(
                f"no model card {card.name} beside {model.name}: its SHA-256 cannot be verified, running it "
                "unverified. Models made with 'liveness-train export' come with their card; keep it beside "
                "the .onnx files."
            ),
        )
    try:
        expected = read_card_hashes(card)
    except OSError as exc:
        expected = {}
        unreadable = f" ({exc.strerror})"
    else:
        unreadable = ""
    names = {p.name for p in files}
    files += [model.with_name(n) for n in expected if n not in names and model.with_name(n).is_file()]
    actual = {p.name: file_sha256(p) for p in files}
    mismatched = tuple(n for n in actual if n in expected and expected[n] != actual[n])
    unlisted = tuple(n for n in actual if n not in expected)
    if mismatched:
        details = "; ".join(
            f"{n}: {actual[n][:16]}... on disk, {expected[n][:16]}... in the card" for n in mismatched
        )
        return IntegrityResult(
            CardStatus.MISMATCH,
            model,
            card,
            actual,
            expected,
            mismatched,
            unlisted,
            message=(
                f"{', '.join(mismatched)} do{'es' if len(mismatched) == 1 else ''} not match the SHA-256 in the "
                f"model card {card.name} ({details}): the file was modified or damaged after export, or the "
                "card belongs to another export. Export or copy the model again; to run it anyway, pass "
                "--allow-unverified."
            ),
        )
    if unlisted:
        return IntegrityResult(
            CardStatus.INCOMPLETE,
            model,
            card,
            actual,
            expected,
            (),
            unlisted,
            message=(
                f"the model card {card.name} lists no SHA-256 for {', '.join(unlisted)}{unreadable}: those files "
                "run unverified. Export the model again to get a complete card."
            ),
        )
    return IntegrityResult(CardStatus.OK, model, card, actual, expected)


def check_model(
    model_path: str | os.PathLike, allow_unverified: bool = False, extra_files: tuple[str, ...] = ()
) -> IntegrityResult:
    """:func:`verify_model_card`, raising :class:`IntegrityError` on a mismatch unless ``allow_unverified``.
    The caller shows ``result.message`` as a warning when ``result.ok`` is False."""
    result = verify_model_card(model_path, extra_files)
    if result.status is CardStatus.MISMATCH and not allow_unverified:
        raise IntegrityError(result.message)
    return result


def load_verified_model(
    model_path: str | os.PathLike, provider: str = "auto", allow_unverified: bool = False
):
    """The app's one load sequence (GUI, headless commands, soak): :func:`check_model`, then
    :meth:`LivenessModel.load <livenessapp.model.LivenessModel.load>`. The result is kept as
    ``model.integrity``; when it is not ``ok`` its message is also appended to ``model.warnings``.

    Raises :class:`IntegrityError` (files differ from the card, unless ``allow_unverified``), ``OSError``
    (files unreadable) or :class:`~livenessapp.model.ModelError` (not a livenessapp model)."""
    from livenessapp.model import LivenessModel

    integrity = check_model(model_path, allow_unverified)
    model = LivenessModel.load(model_path, provider=provider)
    model.integrity = integrity
    if not integrity.ok:
        model.warnings.append(integrity.message)
    return model
