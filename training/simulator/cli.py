"""``liveness-train simulate`` / ``python -m livenessapp_training.simulator``: generate | demo | contact.

Examples::

    liveness-train simulate generate --out data/sim-normal --clips 400 --protocol normal --seed 0
    liveness-train simulate generate --out data/sim-motion --clips 400 --protocol motion_only --faces ~/faces
    liveness-train simulate demo --out assets/demo.mp4
    liveness-train simulate contact --out assets/contact_sheet.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["add_arguments", "main", "run"]


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="render a labelled live / print / replay dataset")
    g.add_argument("--out", required=True, help="dataset root (videos/ + manifest.jsonl)")
    g.add_argument("--clips", type=int, default=400)
    g.add_argument("--protocol", choices=("normal", "motion_only"), default="normal")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--frames", type=int, default=90, help="frames per clip (30 fps)")
    g.add_argument("--size", type=_size, default=(480, 360), help="WxH")
    g.add_argument("--workers", type=int, default=2)
    g.add_argument("--faces", default=None, help="folder of extra face photos (added to the bundled two)")
    g.add_argument("--no-progress", action="store_true")
    d = sub.add_parser("demo", help="the app's demo clip (live / print / replay) + JSON sidecar")
    d.add_argument("--out", default="assets/demo.mp4")
    d.add_argument("--seed", type=int, default=3)
    c = sub.add_parser("contact", help="contact sheet PNG of the simulator's scenarios")
    c.add_argument("--out", default="assets/contact_sheet.png")
    c.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from .generate import find_photos, generate

        summary = generate(
            args.out, args.clips, args.protocol, args.seed, args.frames, args.size, args.workers,
            find_photos(args.faces), progress=not args.no_progress,
        )
        print(json.dumps(summary, indent=2))
    elif args.command == "demo":
        from .demo import render_demo

        print(json.dumps(render_demo(args.out, seed=args.seed), indent=2))
    elif args.command == "contact":
        from .demo import contact_sheet

        print(contact_sheet(args.out, seed=args.seed))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liveness-train simulate", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(sys.argv[1:] if argv is None else argv))
