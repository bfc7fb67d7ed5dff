"""``liveness-train report``: size and cost of the network presets (parameters and multiply-accumulates).

MACs are counted with forward hooks on every convolution and linear layer for one multi-frame window
(Nf frames), split into the per-frame encoder (the part the app runs once per sampled frame) and the
temporal part (STPM + fusion + binary head, run once per window).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import torch
from torch import nn

from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig

PRESETS = ("paper", "lite", "tiny")


def _count_macs(model: nn.Module, run) -> int:
    """Sum of multiply-accumulates of Conv2d / Linear layers during ``run()``."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += out.numel() * k

    def linear_hook(m: nn.Linear, _inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return total


def preset_report(name: str) -> dict:
    """Parameter counts and MACs of one preset (batch 1)."""
    cfg = getattr(SGTDConfig, name)()
    model = FASSGTD(cfg).eval()
    frames = torch.zeros(1, cfg.num_frames, 3, cfg.input_size, cfg.input_size)
    single = sum(p.numel() for p in model.single_frame_parameters())
    multi = sum(p.numel() for p in model.multi_frame_parameters())
    encoder_macs = _count_macs(model, lambda: model.encode(frames[:, 0]))
    window_macs = _count_macs(model, lambda: model(frames))
    return {
        "preset": name,
        "input_size": cfg.input_size,
        "num_frames": cfg.num_frames,
        "params_single_frame": single,
        "params_multi_frame": multi,
        "params_total": single + multi,
        "encoder_mmacs_per_frame": round(encoder_macs / 1e6, 1),
        "temporal_mmacs_per_window": round((window_macs - cfg.num_frames * encoder_macs) / 1e6, 1),
        "full_window_mmacs": round(window_macs / 1e6, 1),
    }


def format_table(rows: list[dict]) -> str:
    head = "| preset | input | Nf | params (single / multi / total) | encoder MMAC/frame | temporal MMAC/window | full window MMAC |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['input_size']} | {r['num_frames']} | "
            f"{r['params_single_frame']:,} / {r['params_multi_frame']:,} / {r['params_total']:,} | "
            f"{r['encoder_mmacs_per_frame']:,} | {r['temporal_mmacs_per_window']:,} | {r['full_window_mmacs']:,} |"
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
