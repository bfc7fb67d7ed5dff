"""``liveness-train simulate`` / ``python -m livenessapp_training.simulator``: generate | faces | recapture | demo | contact.

Examples::

    liveness-train simulate generate --out data/sim-normal --clips 400 --protocol normal --seed 0
    liveness-train simulate generate --out data/sim-motion --clips 400 --protocol motion_only --faces ~/faces
    liveness-train simulate faces --manifest ../shared/data/real-pad --out data/faces-real-train
    liveness-train simulate recapture --manifest ../data/real-mix --out ../data/recapture-mix
    liveness-train simulate demo --out assets/demo.mp4
    liveness-train simulate contact --out assets/contact_sheet.png
    liveness-train simulate tracking-rate --clips 40 --protocol normal --seed 0
    liveness-train simulate tracking-rate --clips 20 --pai print_bent --save-failures /tmp/untracked
    liveness-train simulate tracking-rate --from data/sim-normal --clips 100
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .scene import PAIS
from .tracking_rate import InViewRule

__all__ = ["add_arguments", "main", "run"]


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def _pair(text: str) -> tuple[float, float]:
    from .scene import screen_saturation_range

    try:
        return screen_saturation_range(text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_plan_arguments(p: argparse.ArgumentParser) -> None:
    """What plans the clips (``plan_clip``) and renders them: the same for ``generate`` and ``tracking-rate``,
    so that a rate measured with the same options is the rate of the generated dataset."""
    p.add_argument("--protocol", choices=("normal", "motion_only"), default="normal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=90, help="frames per clip (30 fps)")
    p.add_argument("--size", type=_size, default=(480, 360), help="WxH")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--faces", default=None, help="folder of extra face photos (added to the bundled two)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="render a labelled live / print / replay dataset")
    g.add_argument("--out", required=True, help="dataset root (videos/ + manifest.jsonl)")
    g.add_argument("--clips", type=int, default=400)
    _add_plan_arguments(g)
    g.add_argument(
        "--screen-saturation",
        type=_pair,
        default=(1.0, 1.0),
        metavar="LOW,HIGH",
        help="draw each replay screen's saturation from [LOW, HIGH] (1,1: colour-managed panels; >1: vivid)",
    )
    g.add_argument("--no-progress", action="store_true")
    f = sub.add_parser(
        "faces",
        help="photos of a manifest dataset's live train people, for --faces",
        description="Write the live faces of one split of a manifest-described real dataset "
        "(training/datasets/manifest.py) as photos: the middle image of each live capture, --per-video frames "
        "of each live video. Pass the folder to generate --faces so synthetic attacks are made of real people.",
    )
    f.add_argument("--manifest", required=True, help="folder with MANIFEST.tsv")
    f.add_argument("--protocol", default="groups", help="manifest protocol (groups, lso:SOURCE, ...)")
    f.add_argument("--split", default="train", choices=("train", "dev", "test"))
    f.add_argument("--per-video", type=int, default=3)
    f.add_argument("--out", required=True)
    r = sub.add_parser(
        "recapture",
        help="replays of a manifest dataset's real live videos, shown on a simulated screen and filmed again",
        description="Show every live video of the chosen splits of a manifest-described real dataset on a "
        "simulated screen (tone, cast, glare, banding, moire, bezel; in the hand or still) in a simulator scene "
        "and film it with a simulator camera: --per-video replays each, written as a manifest folder whose "
        "rows keep the original's split, source and person (training/simulator/recapture.py).",
    )
    r.add_argument("--manifest", required=True, help="folder with MANIFEST.tsv")
    r.add_argument("--protocol", default="groups", help="manifest protocol (groups, lso:SOURCE, ...)")
    r.add_argument(
        "--splits", default="train,dev,test", help="comma-separated splits whose live videos to use"
    )
    r.add_argument("--per-video", type=int, default=4)
    r.add_argument("--frames", type=int, default=90, help="frames per replay (30 fps)")
    r.add_argument("--size", type=_size, default=(480, 360), help="WxH")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True, help="output folder (videos/ + MANIFEST.tsv)")
    r.add_argument(
        "--with-originals",
        action="store_true",
        help="also list the original live videos (a paired set for eval; training has them in --manifest)",
    )
    r.add_argument("--no-progress", action="store_true")
    d = sub.add_parser("demo", help="the app's demo clip (live / print / replay) + JSON sidecar")
    d.add_argument("--out", default="assets/demo.mp4")
    d.add_argument("--seed", type=int, default=3)
    c = sub.add_parser("contact", help="contact sheet PNG of the simulator's scenarios")
    c.add_argument("--out", default="assets/contact_sheet.png")
    c.add_argument("--seed", type=int, default=1)
    t = sub.add_parser(
        "tracking-rate",
        help="how often MediaPipe tracks the simulated face, per scenario (frames with the face in view)",
        description="Render clips (or read a generated folder), track them like the preprocessing cache and "
        "print, per scenario, the frames with the face in view and the share MediaPipe tracks. In view: the "
        "rendered landmarks' box is inside the frame, at least --min-face-px wide, and the face is seen at most "
        "--max-angle degrees off frontal.",
    )
    t.add_argument("--clips", type=int, default=40, help="clips 0..N-1 (with --from: the first N, 0 = all)")
    _add_plan_arguments(t)
    t.add_argument("--pai", choices=PAIS, default=None, help="render every clip as this scenario")
    t.add_argument("--from", dest="from_dir", default=None, help="measure a generated dataset folder instead")
    t.add_argument("--max-angle", type=float, default=InViewRule.max_angle, help="degrees off frontal")
    t.add_argument("--min-face-px", type=float, default=InViewRule.min_face_px)
    t.add_argument("--edge-px", type=float, default=InViewRule.edge_px)
    t.add_argument("--save-failures", default=None, help="folder for PNGs of in-view frames not tracked")
    t.add_argument("--json", default=None, help="also write the summary and per-frame records here")
    t.add_argument("--min-rate", type=float, default=None, help="exit 1 if a scenario's rate is below this")
    t.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from .generate import find_photos, generate

        summary = generate(
            args.out,
            args.clips,
            args.protocol,
            args.seed,
            args.frames,
            args.size,
            args.workers,
            find_photos(args.faces),
            progress=not args.no_progress,
            screen_saturation=args.screen_saturation,
        )
        print(json.dumps(summary, indent=2))
    elif args.command == "faces":
        from ..datasets.manifest import export_live_faces

        files = export_live_faces(args.manifest, args.out, args.protocol, args.split, args.per_video)
        print(f"{len(files)} live {args.split} face photos in {args.out}")
    elif args.command == "recapture":
        from .recapture import recapture_manifest

        summary = recapture_manifest(
            args.manifest,
            args.out,
            args.protocol,
            [s.strip() for s in args.splits.split(",") if s.strip()],
            args.per_video,
            args.frames,
            args.seed,
            args.size,
            with_originals=args.with_originals,
            progress=not args.no_progress,
        )
        print(json.dumps(summary, indent=2))
    elif args.command == "demo":
        from .demo import render_demo

        print(json.dumps(render_demo(args.out, seed=args.seed), indent=2))
    elif args.command == "contact":
        from .demo import contact_sheet

        print(contact_sheet(args.out, seed=args.seed))
    elif args.command == "tracking-rate":
        return _tracking_rate(args)
    return 0


def _tracking_rate(args: argparse.Namespace) -> int:
    from .generate import find_photos
    from .tracking_rate import format_table, tracking_rate

    result = tracking_rate(
        args.clips,
        args.protocol,
        args.seed,
        args.frames,
        args.size,
        args.workers,
        find_photos(args.faces),
        pai=args.pai,
        from_dir=args.from_dir,
        rule=InViewRule(args.max_angle, args.min_face_px, args.edge_px),
        save_failures=args.save_failures,
        progress=not args.no_progress,
    )
    print(
        f"protocol {result['protocol']}, {result['source']}, {result['seconds']} s; in view = landmark box "
        f"inside the frame by >= {args.edge_px:g} px, >= {args.min_face_px:g} px wide, <= {args.max_angle:g} deg "
        "off frontal; rate = tracked / in view"
    )
    print(format_table(result["rows"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.min_rate is not None:
        low = [
            r["group"].strip() for r in result["rows"] if r["rate"] is not None and r["rate"] < args.min_rate
        ]
        if low:
            print(f"below {100 * args.min_rate:g} %: {', '.join(low)}")
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="liveness-train simulate",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError, NotADirectoryError) as e:  # bad input: say what, not a traceback
        print(f"liveness-train simulate {args.command}: {e}", file=sys.stderr)
        return 2
