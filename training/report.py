"""``liveness-train report``: size and cost of the network presets (parameters and multiply-accumulates).

Counts come from :func:`livenessapp_training.export.count_params` / :func:`~livenessapp_training.export.count_macs`
(the same numbers the model card gives), split the way the app runs the streaming graphs: the per-frame
encoder, the pair graph (short-term block of the newest frame pair), the temporal graph on cached pairs, and
the full window recomputed from scratch.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from livenessapp_training.export import count_macs, count_params
from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig

PRESETS = ("paper", "lite", "tiny")


def preset_report(name: str) -> dict:
    """Parameter counts and MACs (millions) of one preset, batch 1."""
    cfg = getattr(SGTDConfig, name)()
    params = count_params(FASSGTD(cfg))
    macs = count_macs(cfg)
    return {
        "preset": name,
        "input_size": cfg.input_size,
        "num_frames": cfg.num_frames,
        "params_single_frame": params["single_frame"],
        "params_multi_frame": params["multi_frame"],
        "params_total": params["total"],
        "encoder_mmacs_per_frame": round(macs["encoder"] / 1e6, 1),
        "pair_mmacs_per_frame": round(macs["pair"] / 1e6, 1),
        "window_mmacs": round(macs["window"] / 1e6, 1),
        "streaming_mmacs_per_frame": round(macs["streaming"] / 1e6, 1),
        "full_window_mmacs": round(macs["full"] / 1e6, 1),
    }


def format_table(rows: list[dict]) -> str:
    lines = [
        "| preset | input | Nf | params (single / multi / total) | encoder MMAC/frame | pair MMAC/frame "
        "| temporal MMAC/window (cached pairs) | streaming MMAC/sampled frame | full window MMAC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['input_size']} | {r['num_frames']} | "
            f"{r['params_single_frame']:,} / {r['params_multi_frame']:,} / {r['params_total']:,} | "
            f"{r['encoder_mmacs_per_frame']:,} | {r['pair_mmacs_per_frame']:,} | {r['window_mmacs']:,} | "
            f"{r['streaming_mmacs_per_frame']:,} | {r['full_window_mmacs']:,} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="liveness-train report", description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=PRESETS, action="append", help="preset(s) to report (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a markdown table")
    args = p.parse_args(argv)
    rows = [preset_report(n) for n in (args.preset or PRESETS)]
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
