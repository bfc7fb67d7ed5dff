"""``liveness-train export``: a trained run -> the app's ONNX model group (full + streaming graphs) + model card.

Writes ``OUT/NAME.onnx``, ``OUT/NAME.encoder.onnx``, ``OUT/NAME.pair.onnx``, ``OUT/NAME.temporal.onnx`` (via
:mod:`livenessapp_training.export`, metadata per the contract) with the score threshold chosen on dev by
``liveness-train eval`` (``eval.json``'s ``threshold``) and a summary of the training data (the dataset
manifest / the run's ``data_summary.json``) in ``livenessapp.threshold`` / ``livenessapp.training_data``;
checks onnxruntime against PyTorch, each graph and the app's streaming path (encoder, cached pairs,
temporal) against the network's forward (fails if any output differs by more than ``--tolerance``, 1e-4); and
writes the model card ``OUT/NAME.md``: data, config, metrics table, intended use, limits, the SHA-256 of
each ``.onnx`` and the commands that reproduce it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from livenessapp.integrity import file_sha256 as sha256  # the hash the app verifies at load
from livenessapp.integrity import sibling_paths
from livenessapp_training.eval_report import pct

__all__ = ["main", "model_card", "sha256", "training_data_summary"]


def _run_dir(ckpt_path: Path) -> Path:
    """The run folder of a checkpoint (``RUN/best.pt`` or ``RUN/checkpoints/last.pt``)."""
    for cand in (ckpt_path.parent, ckpt_path.parent.parent):
        if (cand / "config.json").is_file():
            return cand
    return ckpt_path.parent


def training_data_summary(train_config: dict, run_dir: Path | None, data_summary: dict | None = None) -> dict:
    """What the model was trained on: dataset, protocol, video counts per split / PAI and, for a simulator
    dataset, the manifest's identities, scenes, cameras and the simulator's settings."""
    out: dict = {
        "dataset": train_config.get("dataset"),
        "protocol": train_config.get("protocol"),
        "data_root": train_config.get("data_root"),
    }
    ds = data_summary
    if ds is None and run_dir is not None and (run_dir / "data_summary.json").is_file():
        ds = json.loads((run_dir / "data_summary.json").read_text())
    if ds:
        out["videos"] = ds.get("videos")
        out["train_clips"] = ds.get("train_clips")
    root = Path(str(train_config.get("data_root") or ""))
    manifest = root / "manifest.jsonl"
    if train_config.get("data_root") and manifest.is_file():
        recs = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        out["manifest"] = {
            "clips": len(recs),
            "per_split": dict(Counter(r.get("split", "") for r in recs)),
            "per_pai": dict(Counter(r.get("pai", "") for r in recs)),
            "protocols": sorted({str(r.get("protocol", "")) for r in recs}),
            "identities": len({r.get("identity") for r in recs}),
            "scenes": len({r.get("scene") for r in recs}),
            "cameras": len({r.get("camera") for r in recs}),
            "face_photos": sorted({str(r.get("face_photo")) for r in recs if r.get("face_photo")}),
        }
        if (root / "simulator.json").is_file():
            sim = json.loads((root / "simulator.json").read_text())
            out["simulator"] = {
                k: sim.get(k) for k in ("protocol", "seed", "clips", "frames", "size", "photos", "machine")
            }
    return out


def _is_simulated(eval_result: dict) -> bool:
    return str(eval_result.get("dataset", "")).lower() in ("sim", "simulator", "synthetic")


def _metrics_table(eval_result: dict | None) -> list[str]:
    if not eval_result:
        return ["No evaluation was given (`--eval-json`); the threshold is the default.", ""]
    src = _threshold_source(eval_result)
    how = {
        "dev": f"chosen on dev ({eval_result.get('threshold_mode')})",
        "given": "given (`--threshold`/`--threshold-from`: the deciding threshold, not chosen on this data)",
    }.get(src, f"from {src}")
    lines = [
        f"Evaluated on `{eval_result.get('dataset')}` (`{eval_result.get('data_root')}`), video level, threshold "
        f"{how} and applied unchanged on test.",
        "",
    ]
    if eval_result.get("command"):
        lines += [f"Command: `{eval_result['command']}`", ""]
    for proto, r in eval_result.get("protocols", {}).items():
        lines += [
            f"Protocol `{proto}`:",
            "",
            "| score | threshold | APCER % (worst PAI) | BPCER % | ACER % | HTER % | EER % | BPCER@APCER=1% | BPCER@APCER=5% |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for k, v in r.get("variants", {}).items():
            t = v["test"]
            lines.append(
                f"| {k} | {v['threshold']:.4f} | {pct(t.get('apcer'))} ({t.get('worst_pai', '')}) | "
                f"{pct(t.get('bpcer'))} | {pct(t.get('acer'))} | {pct(t.get('hter'))} | {pct(t.get('eer'))} | "
                f"{pct(t.get('bpcer_at_apcer_1'))} | {pct(t.get('bpcer_at_apcer_5'))} |"
            )
        prim = r.get("variants", {}).get(eval_result.get("primary", "score"))
        if prim and prim["test"].get("apcer_per_pai"):
            per = ", ".join(
                f"{sp} {pct(a)} % ({prim['test'].get('num_attack_per_pai', {}).get(sp, '?')} videos)"
                for sp, a in prim["test"]["apcer_per_pai"].items()
            )
            lines += ["", f"APCER per attack species (`{eval_result.get('primary', 'score')}`): {per}."]
        from livenessapp_training import breakdown

        if r.get("source_spread"):
            lines += ["", *breakdown.bootstrap_markdown(r["source_spread"], "test")]
        if r.get("per_source"):
            lines += ["", *breakdown.markdown(r["population"], r["per_source"], "test")]
        lines.append("")
    return lines


def _threshold_source(eval_result: dict) -> str:
    v = eval_result.get("variants", {}).get(eval_result.get("primary", "score"), {})
    return str(v.get("threshold_source", "dev"))


def _metrics_sections(evals: list[dict]) -> list[str]:
    """The card's metrics: a real held-out section and a simulator section, each present or said missing."""
    real = [e for e in evals if not _is_simulated(e)]
    sim = [e for e in evals if _is_simulated(e)]
    lines = ["### Real held-out", ""]
    if real:
        for e in real:
            lines += _metrics_table(e)
    else:
        lines += [
            "**Not measured**: no evaluation on real footage was given. The simulator figures below do not "
            "predict accuracy on real people, cameras or attacks.",
            "",
        ]
    lines += ["### Simulator test split", ""]
    for e in sim:
        lines += _metrics_table(e)
    if not sim:
        lines += ["Not measured.", ""]
    return lines


def model_card(
    name: str,
    out_dir: Path,
    model_config: dict,
    train_config: dict,
    data: dict,
    eval_result: dict | None,
    threshold: float,
    parity: dict | None,
    commands: list[str],
    checkpoint: str,
    notes: str = "",
    extra_evals: Sequence[dict] = (),
) -> str:
    files = list(sibling_paths(out_dir / f"{name}.onnx").values())
    lines = [
        f"# Model card: {name}",
        "",
        "FAS-SGTD face presentation-attack detector (single-frame depth network + spatio-temporal propagation "
        "module, Wang et al., arXiv 1811.05118) for livenessapp.",
        "",
        "## Files",
        "",
        "| file | SHA-256 |",
        "|---|---|",
        *(f"| `{f.name}` | `{sha256(f)}` |" for f in files if f.is_file()),
        "",
        f"Decision: **live if score >= {threshold:.6f}** (score = Eq. 18, beta = {model_config.get('beta')}; "
        "a video's score is the mean of its clips').",
        "",
        "## Training data",
        "",
        "```json",
        json.dumps(data, indent=2, default=str),
        "```",
        "",
        "## Configuration",
        "",
        f"Checkpoint: `{checkpoint}`.",
        "",
        "Network (`SGTDConfig`):",
        "",
        "```json",
        json.dumps(model_config, indent=2),
        "```",
        "",
        "Training (`TrainConfig`):",
        "",
        "```json",
        json.dumps(train_config, indent=2),
        "```",
        "",
        "## Metrics (ISO/IEC 30107-3)",
        "",
        *(
            _metrics_sections([e for e in (eval_result, *extra_evals) if e])
            if eval_result or extra_evals
            else _metrics_table(None)
        ),
    ]
    if parity:
        lines += [
            "ONNX Runtime vs PyTorch, max |difference| per output: "
            + ", ".join(f"{k} {v:.2e}" for k, v in parity.items() if isinstance(v, float)),
            "",
        ]
    synthetic = str(train_config.get("dataset", "")).lower() in ("sim", "simulator", "synthetic") and not any(
        str(m.get("dataset", "")).lower() not in ("sim", "simulator") for m in train_config.get("mix") or []
    )
    lines += [
        *([notes.strip(), ""] if notes.strip() else []),
        "## Intended use",
        "",
        "- A liveness signal for a cooperative user in front of a webcam (the livenessapp desktop app): "
        "flags print and screen-replay presentation attacks from a few seconds of video.",
        "- One signal among others (challenge-response, face match, human review) — not a sole gate for "
        "security-critical decisions.",
        "",
        "## Limits",
        "",
        *(
            [
                "- Trained on SYNTHETIC clips from the project's simulator (rendered faces, prints and replays): "
                "the metrics above are on held-out synthetic identities/scenes/cameras and do NOT predict "
                "accuracy on real cameras and real attacks. Fine-tune on real data (OULU-NPU, SiW, "
                "CASIA-MFSD, Replay-Attack, or app recordings) before relying on it."
            ]
            if synthetic
            else []
        ),
        "- Only the attack species seen in training (print, replay) were measured; masks, 3-D models, "
        "deep-fake injection or partial attacks were not.",
        "- The threshold comes from a dev split of the same distribution; under a new camera, lighting or "
        "population it must be re-chosen on data from that setting.",
        "- Needs a single, frontal-ish face that MediaPipe's face mesh tracks over Nf frames "
        f"(Nf = {model_config.get('num_frames')}, interval {model_config.get('frame_interval')} frames).",
        "- Demographic performance differences were not measured.",
        "",
        "## Reproduce",
        "",
        "```bash",
        *commands,
        "```",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by `liveness-train export`.",
    ]
    return "\n".join(lines) + "\n"


def _read_notes(path: str | None) -> str:
    """The ``--notes`` markdown (measured facts the exporter cannot know: app-side figures, timings), or ""."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"export: cannot read --notes {path}: {exc.strerror or exc}") from exc


def _recipe_of(run_dir: Path) -> str | None:
    """The ``reproduce`` recipe the run was trained from: the TOML of its first ``fit --config`` line in
    ``commands.txt``, when that file still exists and has a ``[simulate]`` table."""
    try:
        lines = (Path(run_dir) / "commands.txt").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        words = shlex.split(line)
        if "fit" in words and "--config" in words[:-1]:
            path = Path(words[words.index("--config") + 1])
            try:
                return str(path) if path.suffix == ".toml" and "[simulate]" in path.read_text() else None
            except OSError:
                return None
    return None


def _recipe_steps(recipe: str) -> list[str] | None:
    """The command lines of ``recipe``'s plan from nothing (None when the recipe no longer plans)."""
    from livenessapp_training.reproduce import plan

    try:
        return [step.command() for step in plan(recipe, force=True)]
    except (OSError, ValueError):
        return None


def _call(fn, **kwargs):
    """Call ``fn`` with the keyword arguments it accepts (the exporter's signature is the net stream's)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(**kwargs)
    return fn(**{k: v for k, v in kwargs.items() if k in params})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liveness-train export",
        description="Export a trained run to the app's ONNX model group and write its model card.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", help="a run folder (best.pt) or a checkpoint .pt")
    p.add_argument("--name", default="sgtd", help="model name NAME (files NAME.onnx, NAME.encoder.onnx, ...)")
    p.add_argument("--out", help="output folder (default: RUN/export)")
    p.add_argument(
        "--notes",
        help="markdown file added to the model card before 'Intended use' (measured facts of this model)",
    )
    p.add_argument(
        "--eval-json", help="eval.json of `liveness-train eval` (default: RUN/eval/eval.json if any)"
    )
    p.add_argument(
        "--extra-eval",
        action="append",
        default=[],
        help="another eval.json whose figures the card shows too (repeat; e.g. the simulator test split "
        "beside the real held-out one); the threshold still comes from --eval-json",
    )
    p.add_argument("--threshold", type=float, help="override the threshold (default: eval.json's)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |onnxruntime - torch| allowed")
    p.add_argument("--skip-parity", action="store_true", help="skip the onnxruntime parity check")
    return p


def run_export(args: argparse.Namespace, argv: Sequence[str] | None = None) -> dict:
    from livenessapp_training import export as E
    from livenessapp_training.checkpoint import load_model

    model, meta = load_model(args.model, "cpu")
    ckpt_path = Path(meta["path"])
    run_dir = _run_dir(ckpt_path)
    out_dir = Path(args.out) if args.out else run_dir / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    eval_path = Path(args.eval_json) if args.eval_json else run_dir / "eval" / "eval.json"
    eval_result = json.loads(eval_path.read_text()) if eval_path.is_file() else None
    if args.eval_json and eval_result is None:
        raise SystemExit(f"export: {eval_path} not found")
    if eval_result is not None and eval_result.get("applied_to", "test") != "test":
        raise SystemExit(
            f"export: {eval_path} is a fit check on the {eval_result['applied_to']} split (eval --apply-to); "
            "the model card needs the held-out test split: give the eval.json of a plain `liveness-train eval`"
        )
    extra_evals = []
    for path in args.extra_eval:
        try:
            extra = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"export: cannot read --extra-eval {path}: {exc}") from exc
        if extra.get("applied_to", "test") != "test":
            raise SystemExit(f"export: --extra-eval {path} is a fit check, not a held-out test")
        extra_evals.append(extra)
    if args.threshold is not None:
        threshold = float(args.threshold)
    elif eval_result is not None:
        threshold = float(eval_result["threshold"])
    else:
        threshold = 0.5
        print(
            "export: no eval.json; threshold defaults to 0.5 (run `liveness-train eval` first)",
            file=sys.stderr,
        )
    train_config = meta.get("train_config", {})
    data = training_data_summary(train_config, run_dir, meta.get("data_summary"))
    data_meta = {**data, "train_config": train_config, "checkpoint_step": meta.get("step")}
    kwargs = {
        "model": model,
        "out_dir": out_dir,
        "name": args.name,
        "threshold": threshold,
        "training_data": json.dumps(data_meta, default=str),
    }
    if args.opset is not None:
        kwargs["opset"] = args.opset
    paths = _call(E.export_onnx, **kwargs)
    parity = None
    if not args.skip_parity:
        parity = _call(
            E.check_parity, model=model, out_dir=out_dir, name=args.name, paths=paths, atol=args.tolerance
        )
        worst = _parity_max(parity)
        if worst is not None and worst > args.tolerance:
            raise SystemExit(f"export: ONNX parity check FAILED: max |diff| {worst:.3e} > {args.tolerance:g}")
    mc = meta["model_config"]
    exe = "liveness-train"
    fit_cmd = f"{exe} fit --config {shlex.quote(os.fspath(run_dir / 'config.json'))}"
    export_cmd = " ".join([exe, "export", *(shlex.quote(a) for a in (argv or []))])
    recipe = _recipe_of(run_dir)
    recipe_steps = _recipe_steps(recipe) if recipe else None
    if recipe_steps:
        # The recipe's own plan, every step as if from nothing: the data it prepares, the simulator's
        # identities and clips, the fit, each evaluation; then the export exactly as it was run.
        commands = [f"{exe} reproduce --config {shlex.quote(recipe)}", "# or step by step:"]
        commands += [s for s in recipe_steps if not s.startswith(f"{exe} export ")] + [export_cmd]
    else:
        commands = []
        sim = data.get("simulator")
        if sim and sim.get("size"):
            commands.append(
                f"{exe} simulate generate --out {shlex.quote(str(data.get('data_root')))} --clips {sim['clips']} "
                f"--protocol {sim['protocol']} --seed {sim['seed']} --frames {sim['frames']} "
                f"--size {sim['size'][0]}x{sim['size'][1]}"
            )
        commands += ["# the run's config.json is reproduced in the card above", fit_cmd]
        if eval_result is not None:
            commands.append(eval_result.get("command") or f"{exe} eval {shlex.quote(os.fspath(run_dir))}")
        commands += [e["command"] for e in extra_evals if e.get("command")]
        commands.append(export_cmd)
    card = model_card(
        args.name,
        out_dir,
        mc,
        train_config,
        data,
        eval_result,
        threshold,
        parity if isinstance(parity, dict) else None,
        commands,
        os.fspath(ckpt_path),
        notes=_read_notes(args.notes),
        extra_evals=extra_evals,
    )
    card_path = out_dir / f"{args.name}.md"
    card_path.write_text(card)
    files = {p.name: sha256(p) for p in sibling_paths(out_dir / f"{args.name}.onnx").values() if p.is_file()}
    return {
        "out_dir": os.fspath(out_dir),
        "files": files,
        "card": os.fspath(card_path),
        "threshold": threshold,
        "parity": parity,
    }


def _parity_max(parity) -> float | None:
    if parity is None:
        return None
    if isinstance(parity, int | float):
        return float(parity)
    if isinstance(parity, dict):
        vals = [v for v in parity.values() if isinstance(v, int | float) and not isinstance(v, bool)]
        nested = [_parity_max(v) for v in parity.values() if isinstance(v, dict)]
        vals += [v for v in nested if v is not None]
        return max(vals) if vals else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    res = run_export(args, argv)
    print(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
