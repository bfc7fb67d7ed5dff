"""The ``liveness-train`` command: every step that produces the shipped model.

Each subcommand lives in its own module with a ``main(argv) -> int``; this file only dispatches, so that
``liveness-train --help`` stays fast and a subcommand imports only what it needs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("livenessapp_training.simulator.cli", "render labelled live / print / replay clips"),
    "preprocess": ("livenessapp_training.preprocess", "face crops, depth labels and masks into the cache"),
    "fit": ("livenessapp_training.fit", "two-stage training (single-frame, then multi-frame)"),
    "eval": ("livenessapp_training.evaluate", "ISO/IEC 30107-3 metrics, report and plots"),
    "export": ("livenessapp_training.export_cli", "ONNX graphs (full + streaming), model card"),
    "ablate": ("livenessapp_training.ablate", "the paper's Table 4 / Table 5 ablations on one dataset"),
    "motion-probe": (
        "livenessapp_training.motion_probe",
        "motion evidence per PAI: in the crops, in a network",
    ),
    "depth-probe": (
        "livenessapp_training.depth_probe",
        "which picture changes move a run's face depth, per source",
    ),
    "report": ("livenessapp_training.report", "parameter counts and MACs of the network presets"),
    "reproduce": ("livenessapp_training.reproduce", "simulate -> fit -> eval -> export from one recipe file"),
}


def _usage() -> str:
    lines = ["usage: liveness-train COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "'liveness-train COMMAND --help' for the options of one command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"liveness-train: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
