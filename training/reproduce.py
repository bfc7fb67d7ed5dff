"""``liveness-train reproduce --config FILE``: one command from nothing to an exported, evaluated model.

The recipe file is a training config (the ``[train]`` table of :class:`~livenessapp_training.train_config.TrainConfig`)
with more tables::

    [prepare]             # optional: commands that write the data the recipe reads (run first, every
    commands = [          # time, so they must be cheap and idempotent; "python" is this interpreter)
        "python training/configs/build_real_mix.py ../shared/data/real-pad ../data/real-extra ../data/real-mix",
    ]

    [simulate]            # render the training data first (omit for a real dataset already on disk)
    clips = 600
    protocol = "normal"
    seed = 1
    workers = 2

    [eval]                # optional: where the threshold is chosen (default: the run's own dataset)
    dataset = "manifest"
    data_root = "../shared/data/real-pad"
    protocol = "groups"
    [[eval.extra]]        # more held-out tests for the model card, at that threshold (out = a folder)
    out = "runs/lite-real/eval-sim"     # no dataset: the run's own (here the simulator's test split)

    [export]
    name = "sgtd-lite"
    out = "models"
    notes = "training/configs/lite-sim.card.md"   # optional: measured facts for the model card

and the command runs, printing each step as the command line that does it alone:

0. each ``[prepare]`` command;
1. ``simulate faces`` when ``[simulate]`` has ``faces_from`` (a manifest-described real dataset: its live
   train people become the simulator's identities, written to ``faces``), then ``simulate generate`` into
   ``train.data_root`` (finished clips are kept, so an interrupted run resumes);
2. ``fit --config FILE`` (preprocessing on the way); a run folder with ``final.pt`` is kept unless
   ``--force``, one with a checkpoint is resumed;
3. ``eval RUN`` (threshold on dev, metrics on test, report and plots), then each ``[[eval.extra]]`` with
   ``--threshold-from RUN/eval/eval.json``;
4. ``export RUN --name NAME --out OUT`` (ONNX graphs, parity check, model card with every evaluation).

``--dry-run`` prints the steps without running them.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from livenessapp_training.train_config import TrainConfig, load_config

__all__ = ["Step", "main", "plan"]

SIMULATE_KEYS = {
    "clips",
    "protocol",
    "seed",
    "workers",
    "frames",
    "size",
    "faces",
    "faces_from",
    "faces_protocol",
    "screen_saturation",
}
EVAL_KEYS = {"dataset", "data_root", "protocol", "extra"}
EVAL_EXTRA_KEYS = {"dataset", "data_root", "protocol", "out"}
EXPORT_KEYS = {"name", "out", "notes"}
PREPARE_KEYS = {"commands"}


@dataclass(frozen=True)
class Step:
    """One step: the ``liveness-train`` arguments (or, for a ``[prepare]`` command, a whole command line:
    ``external``), and why it is skipped (empty: it runs)."""

    argv: tuple[str, ...]
    skip: str = ""
    external: bool = False

    def command(self) -> str:
        return shlex.join(self.argv if self.external else ["liveness-train", *self.argv])


def _prepare_steps(path: Path, prep: dict) -> list[Step]:
    """The ``[prepare]`` table's commands (its keys already checked by :func:`_read_tables`)."""
    commands = prep.get("commands", [])
    if not isinstance(commands, list) or not all(isinstance(c, str) and c.strip() for c in commands):
        raise ValueError(f"{path}: [prepare] commands must be a list of command lines (strings)")
    return [Step(tuple(shlex.split(c)), external=True) for c in commands]


def _run_external(argv: Sequence[str]) -> int:
    """Run a ``[prepare]`` command; ``python`` means this interpreter (the project's environment)."""
    argv = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
    try:
        return subprocess.run(argv, check=False).returncode
    except OSError as exc:
        print(f"reproduce: cannot run {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127


def _read_tables(path: Path) -> tuple[dict, dict, dict, dict]:
    """The recipe's ``[simulate]``, ``[export]``, ``[eval]`` and ``[prepare]`` tables, keys checked."""
    if path.suffix.lower() != ".toml":
        return {}, {}, {}, {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    doc = tomllib.loads(path.read_text())
    sim, exp = dict(doc.get("simulate", {})), dict(doc.get("export", {}))
    ev, prep = dict(doc.get("eval", {})), dict(doc.get("prepare", {}))
    tables = [
        (sim, SIMULATE_KEYS, "simulate"),
        (exp, EXPORT_KEYS, "export"),
        (ev, EVAL_KEYS, "eval"),
        (prep, PREPARE_KEYS, "prepare"),
    ]
    extra = ev.get("extra", [])
    if not isinstance(extra, list) or not all(isinstance(e, dict) for e in extra):
        raise ValueError(f"{path}: [[eval.extra]] must be tables")
    for e in extra:
        if "out" not in e:
            raise ValueError(f"{path}: every [[eval.extra]] needs out (its eval folder)")
        tables.append((e, EVAL_EXTRA_KEYS, "eval.extra"))
    if "faces_from" in sim and "faces" not in sim:
        raise ValueError(f"{path}: [simulate] faces_from needs faces (the folder to write the photos to)")
    for table, keys, name in tables:
        unknown = sorted(set(table) - keys)
        if unknown:
            raise ValueError(f"{path}: unknown keys in [{name}]: {unknown} (known: {sorted(keys)})")
    return sim, exp, ev, prep


def _dataset_args(table: dict) -> list[str]:
    return [
        arg
        for key in ("dataset", "data_root", "protocol")
        if key in table
        for arg in (f"--{key.replace('_', '-')}", str(table[key]))
    ]


def plan(config: str | Path, force: bool = False) -> list[Step]:
    """The steps that reproduce the model of ``config``, given what is already on disk."""
    path = Path(config)
    cfg = TrainConfig.from_dict(load_config(path))
    sim, exp, ev, prep = _read_tables(path)
    steps: list[Step] = _prepare_steps(path, prep)
    if sim:
        if cfg.dataset != "sim":
            raise ValueError(f"{path}: a [simulate] table needs dataset = 'sim' (got {cfg.dataset!r})")
        if "faces_from" in sim:
            protocol = ("--protocol", str(sim["faces_protocol"])) if "faces_protocol" in sim else ()
            steps.append(
                Step(
                    (
                        "simulate",
                        "faces",
                        "--manifest",
                        str(sim["faces_from"]),
                        *protocol,
                        "--out",
                        str(sim["faces"]),
                    )
                )
            )
        argv = ["simulate", "generate", "--out", cfg.data_root, "--clips", str(sim.get("clips", 400))]
        for key in ("protocol", "seed", "frames", "size", "workers", "faces"):
            if key in sim:
                argv += [f"--{key}", str(sim[key])]
        if "screen_saturation" in sim:  # [low, high]
            argv += ["--screen-saturation", ",".join(str(v) for v in sim["screen_saturation"])]
        steps.append(Step(tuple(argv + ["--no-progress"])))
    elif not Path(cfg.data_root).exists() and not steps:  # a [prepare] command may write it
        raise ValueError(
            f"{path}: the dataset {cfg.data_root} does not exist and the recipe has no [simulate] table. "
            "Put the dataset there (see docs/training.md, 'Training on real datasets') or add a [simulate] table."
        )
    run = Path(cfg.out_dir)
    last = run / "checkpoints" / "last.pt"
    if (run / "final.pt").is_file() and not force:
        steps.append(Step(("fit", "--config", str(path)), skip=f"{run}/final.pt exists (--force retrains)"))
    elif last.is_file() and not force:
        steps.append(Step(("fit", "--resume", str(run))))
    else:
        steps.append(Step(("fit", "--config", str(path))))
    steps.append(Step(("eval", str(run), *_dataset_args(ev), "--no-progress")))
    extra_evals = []
    for e in ev.get("extra", []):
        threshold = ("--threshold-from", str(run / "eval" / "eval.json"))
        steps.append(
            Step(("eval", str(run), *_dataset_args(e), "--out", str(e["out"]), *threshold, "--no-progress"))
        )
        extra_evals += ["--extra-eval", str(Path(e["out"]) / "eval.json")]
    name, out = str(exp.get("name", "sgtd")), str(exp.get("out", run / "export"))
    notes = ("--notes", str(exp["notes"])) if exp.get("notes") else ()
    steps.append(Step(("export", str(run), "--name", name, "--out", out, *notes, *extra_evals)))
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="liveness-train reproduce",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--config", required=True, help="the recipe (e.g. training/configs/lite-sim.toml)")
    parser.add_argument("--force", action="store_true", help="retrain even if the run has final.pt")
    parser.add_argument("--dry-run", action="store_true", help="print the steps only")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not Path(args.config).is_file():
        print(f"reproduce: no recipe at {args.config}", file=sys.stderr)
        return 2
    try:
        steps = plan(args.config, force=args.force)
    except ValueError as exc:
        print(f"reproduce: {exc}", file=sys.stderr)
        return 2
    if args.force and not args.dry_run:
        run = Path(TrainConfig.from_dict(load_config(args.config)).out_dir)
        for stale in (run / "final.pt", run / "best.pt", run / "checkpoints" / "last.pt"):
            stale.unlink(missing_ok=True)
    from livenessapp_training import cli

    for k, step in enumerate(steps, 1):
        note = f"   # skipped: {step.skip}" if step.skip else ""
        print(f"[{k}/{len(steps)}] {step.command()}{note}", file=sys.stderr, flush=True)
        if args.dry_run or step.skip:
            continue
        rc = _run_external(step.argv) if step.external else cli.main(list(step.argv))
        if rc:
            print(f"reproduce: step {k} failed (exit {rc}): {step.command()}", file=sys.stderr)
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
