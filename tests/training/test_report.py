"""``liveness-train report``: parameter and MAC counts of the presets."""

from __future__ import annotations

import torch

from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig
from livenessapp_training.report import _count_macs, format_table, main, preset_report


def test_parameter_counts_cover_the_whole_model():
    row = preset_report("tiny")
    model = FASSGTD(SGTDConfig.tiny())
    assert row["params_total"] == sum(p.numel() for p in model.parameters())
    assert row["params_single_frame"] > 0 and row["params_multi_frame"] > 0


def test_mac_count_of_one_convolution_is_hand_computable():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.zeros(1, 3, 10, 10)
    # 8 output channels x 10 x 10 positions x (3 x 3 x 3) multiply-accumulates each
    assert _count_macs(conv, lambda: conv(x)) == 8 * 10 * 10 * 27


def test_window_cost_is_encoder_times_frames_plus_temporal():
    row = preset_report("tiny")
    nf = row["num_frames"]
    total = nf * row["encoder_mmacs_per_frame"] + row["temporal_mmacs_per_window"]
    assert abs(total - row["full_window_mmacs"]) < 0.2
    assert "| tiny |" in format_table([row])


def test_cli_prints_a_table(capsys):
    assert main(["--preset", "tiny"]) == 0
    assert "| tiny | 32 |" in capsys.readouterr().out
