"""``liveness-train report``: parameter and MAC counts of the presets."""

from __future__ import annotations

from livenessapp_training.fas_sgtd import FASSGTD, SGTDConfig
from livenessapp_training.report import format_table, main, preset_report


def test_parameter_counts_cover_the_whole_model():
    row = preset_report("tiny")
    model = FASSGTD(SGTDConfig.tiny())
    assert row["params_total"] == sum(p.numel() for p in model.parameters())
    assert row["params_single_frame"] > 0 and row["params_multi_frame"] > 0


def test_streaming_costs_add_up_and_undercut_the_full_window():
    row = preset_report("lite")
    parts = row["encoder_mmacs_per_frame"] + row["pair_mmacs_per_frame"] + row["window_mmacs"]
    assert abs(parts - row["streaming_mmacs_per_frame"]) < 0.2
    assert row["streaming_mmacs_per_frame"] < row["full_window_mmacs"] / 3
    assert "| lite | 128 |" in format_table([row])


def test_cli_prints_a_table(capsys):
    assert main(["--preset", "tiny"]) == 0
    assert "| tiny | 32 |" in capsys.readouterr().out
