"""``liveness-train reproduce``: the plan of steps from a recipe file and what is already on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from livenessapp_training.reproduce import main, plan

RECIPE = """
[train]
model = "tiny"
dataset = "sim"
data_root = "{root}/data"
cache_dir = "{root}/cache"
out_dir = "{root}/run"

[simulate]
clips = 16
seed = 2
frames = 24
size = "240x180"
workers = 2

[export]
name = "tinysgtd"
out = "{root}/model"
notes = "{root}/notes.md"
"""


def _recipe(tmp_path, text=RECIPE):
    path = tmp_path / "recipe.toml"
    path.write_text(text.format(root=tmp_path))
    return path


def test_plan_runs_every_step_from_nothing(tmp_path):
    steps = plan(_recipe(tmp_path))
    assert [s.command() for s in steps] == [
        f"liveness-train simulate generate --out {tmp_path}/data --clips 16 --seed 2 --frames 24 "
        "--size 240x180 --workers 2 --no-progress",
        f"liveness-train fit --config {tmp_path}/recipe.toml",
        f"liveness-train eval {tmp_path}/run --no-progress",
        f"liveness-train export {tmp_path}/run --name tinysgtd --out {tmp_path}/model --notes {tmp_path}/notes.md",
    ]
    assert not any(s.skip for s in steps)


def test_plan_resumes_an_interrupted_run_and_keeps_a_finished_one(tmp_path):
    recipe = _recipe(tmp_path)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"x")
    assert plan(recipe)[1].argv == ("fit", "--resume", f"{tmp_path}/run")
    (tmp_path / "run" / "final.pt").write_bytes(b"x")
    fit = plan(recipe)[1]
    assert fit.skip and "final.pt" in fit.skip
    assert (
        plan(recipe, force=True)[1].argv == ("fit", "--config", str(recipe))
        and not plan(recipe, True)[1].skip
    )


def test_recipe_errors_name_the_problem(tmp_path, capsys):
    bad = _recipe(tmp_path, RECIPE.replace("clips = 16", "clip = 16"))
    with pytest.raises(ValueError, match=r"unknown keys in \[simulate\]: \['clip'\]"):
        plan(bad)
    no_sim = _recipe(tmp_path, RECIPE.split("[simulate]")[0])
    with pytest.raises(ValueError, match="does not exist and the recipe has no \\[simulate\\] table"):
        plan(no_sim)
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "no recipe" in capsys.readouterr().err


def test_dry_run_prints_the_commands_and_runs_nothing(tmp_path, capsys):
    assert main(["--config", str(_recipe(tmp_path)), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "[1/4] liveness-train simulate generate" in err and "[4/4] liveness-train export" in err
    assert not (tmp_path / "data").exists()


def test_plan_passes_the_screen_saturation_range(tmp_path):
    text = RECIPE.replace("workers = 2\n", "workers = 2\nscreen_saturation = [1.0, 1.8]\n")
    generate = plan(_recipe(tmp_path, text))[0].command()
    assert generate.endswith("--workers 2 --screen-saturation 1.0,1.8 --no-progress")


def test_plan_with_real_faces_and_held_out_evaluations(tmp_path):
    text = RECIPE.replace(
        "workers = 2\n",
        'workers = 2\nfaces = "{root}/faces"\nfaces_from = "{root}/real"\nfaces_protocol = "groups"\n\n'
        '[eval]\ndataset = "manifest"\ndata_root = "{root}/real"\nprotocol = "groups"\n\n'
        '[[eval.extra]]\nout = "{root}/run/eval-sim"\n',
    )
    commands = [s.command() for s in plan(_recipe(tmp_path, text))]
    assert commands[0] == (
        f"liveness-train simulate faces --manifest {tmp_path}/real --protocol groups --out {tmp_path}/faces"
    )
    assert commands[1].endswith(f"--faces {tmp_path}/faces --no-progress")
    assert commands[3] == (
        f"liveness-train eval {tmp_path}/run --dataset manifest --data-root {tmp_path}/real --protocol groups "
        "--no-progress"
    )
    assert commands[4] == (
        f"liveness-train eval {tmp_path}/run --out {tmp_path}/run/eval-sim --threshold-from "
        f"{tmp_path}/run/eval/eval.json --no-progress"
    )
    assert commands[5].endswith(f"--extra-eval {tmp_path}/run/eval-sim/eval.json")
    with pytest.raises(ValueError, match="needs out"):
        plan(_recipe(tmp_path, text.replace('out = "{root}/run/eval-sim"', 'protocol = "x"')))
    with pytest.raises(ValueError, match="faces_from needs faces"):
        plan(_recipe(tmp_path, text.replace('faces = "{root}/faces"\n', "")))


def test_prepare_commands_run_first_with_this_interpreter(tmp_path, capsys):
    marker = tmp_path / "prepared.txt"
    (tmp_path / "prep.py").write_text(f"open({str(marker)!r}, 'w').write('ok')\n")
    (tmp_path / "fail.py").write_text("raise SystemExit(3)\n")
    prepared = RECIPE.replace("[simulate]", "[prepare]\ncommands = ['python {root}/prep.py']\n\n[simulate]")
    recipe = _recipe(tmp_path, prepared)
    steps = plan(recipe)
    assert steps[0].external and steps[0].command() == f"python {tmp_path}/prep.py"
    assert steps[1].command().startswith("liveness-train simulate generate") and not steps[1].external
    # The dry run prints the prepare command and runs nothing.
    assert main(["--config", str(recipe), "--dry-run"]) == 0
    assert f"[1/5] python {tmp_path}/prep.py" in capsys.readouterr().err and not marker.exists()
    # A failing one stops the recipe before anything is rendered or trained.
    assert main(["--config", str(_recipe(tmp_path, prepared.replace("prep.py", "fail.py")))]) == 3
    assert "step 1 failed (exit 3)" in capsys.readouterr().err and not (tmp_path / "data").exists()
    with pytest.raises(ValueError, match=r"unknown keys in \[prepare\]"):
        plan(_recipe(tmp_path, RECIPE.replace("[simulate]", "[prepare]\ncommand = 'x'\n\n[simulate]")))
    with pytest.raises(ValueError, match="list of command lines"):
        plan(
            _recipe(
                tmp_path, RECIPE.replace("[simulate]", "[prepare]\ncommands = 'python x.py'\n\n[simulate]")
            )
        )


def test_prepare_runs_the_recipe_commands_for_real(tmp_path):
    marker = tmp_path / "prepared.txt"
    (tmp_path / "prep.py").write_text(f"open({str(marker)!r}, 'w').write('ok')\n")
    from livenessapp_training.reproduce import _run_external

    assert _run_external(["python", str(tmp_path / "prep.py")]) == 0 and marker.read_text() == "ok"
    assert _run_external(["no-such-program-here"]) == 127


CONFIGS = Path(__file__).parents[2] / "training" / "configs"
# Recipes of measured candidates that were not adopted: reproducing one must not replace the shipped model.
CANDIDATES = {"lite-context.toml", "lite-recap.toml"}


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.toml")))
def test_every_shipped_recipe_plans(config):
    """Each recipe in training/configs parses and plans fit and eval (a recipe that reads data it does not
    make says which data is missing); a candidate's export does not write into models/."""
    try:
        steps = plan(CONFIGS / config)
    except ValueError as err:
        assert "does not exist" in str(err) and "[simulate]" in str(err), err
        return
    args = [s.argv for s in steps]
    assert any(a[:1] == ("fit",) for a in args) and any(a[:1] == ("eval",) for a in args)
    for a in args:
        if a[:1] == ("export",) and config in CANDIDATES:
            assert a[a.index("--out") + 1] != "models", config
