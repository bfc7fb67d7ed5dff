"""training/configs/real_extra.py: the real-extra corpus is rebuilt from git clones and checked against its lock."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _module():
    spec = importlib.util.spec_from_file_location("real_extra", CONFIGS / "real_extra.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def clone(tmp_path):
    """A clone named like its real-extra folder: two crops, code and a tutorial crop the lock leaves out."""
    repo = tmp_path / "clones" / "someone+liveness"
    for rel, data in {
        "dataset/real/0.png": b"live crop",
        "dataset/fake/0.png": b"replay crop",
        "dataset/fake/tutorial.png": b"the tutorial's own crop",
        "train.py": b"print('code is never copied')",
    }.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "data")
    return repo


def _lock(real_extra, clone):
    staged = clone.parent.parent / "staged" / clone.name
    for rel in ("dataset/real/0.png", "dataset/fake/0.png"):
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clone / rel, staged / rel)
    return real_extra.lock_from(staged.parent, clone.parent)


def test_lock_pins_commit_and_content_and_assemble_rebuilds_exactly_the_locked_files(tmp_path, clone):
    real_extra = _module()
    files = _lock(real_extra, clone)
    head = _git(clone, "rev-parse", "HEAD").strip()
    assert {(f.repo, f.commit, f.path) for f in files} == {
        ("someone/liveness", head, "dataset/real/0.png"),
        ("someone/liveness", head, "dataset/fake/0.png"),
    }
    assert files[0].blob == _git(clone, "hash-object", files[0].path).strip()  # git's own content id

    out = tmp_path / "real-extra"
    assert real_extra.assemble(clone.parent, out, files) == []
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "someone+liveness/dataset/fake/0.png",
        "someone+liveness/dataset/real/0.png",
    ]
    assert real_extra.verify(out, files) == ""

    lock, sources = tmp_path / "lock.tsv", tmp_path / "sources.tsv"
    real_extra.write_lock(files, lock, sources)
    assert real_extra.read_lock(lock, sources) == sorted(files, key=lambda f: (f.folder, f.path))


def test_verify_names_missing_changed_and_unexpected_files_and_the_fix(tmp_path, clone):
    real_extra = _module()
    files = _lock(real_extra, clone)
    out = tmp_path / "real-extra"
    real_extra.assemble(clone.parent, out, files)
    (out / "someone+liveness/dataset/real/0.png").unlink()
    (out / "someone+liveness/dataset/fake/0.png").write_bytes(b"re-encoded")
    (out / "someone+liveness/dataset/fake/1.png").write_bytes(b"stray")
    problem = real_extra.verify(out, files)
    assert "1 missing (e.g. someone+liveness/dataset/real/0.png)" in problem
    assert "1 changed (e.g. someone+liveness/dataset/fake/0.png)" in problem
    assert "1 unexpected (e.g. someone+liveness/dataset/fake/1.png)" in problem
    assert "real_extra.py assemble CLONES" in problem


def test_assemble_reports_files_no_clone_holds(tmp_path, clone):
    real_extra = _module()
    files = _lock(real_extra, clone)
    assert real_extra.assemble(tmp_path / "no-clones", tmp_path / "out", files) == [
        f"someone+liveness/{f.path}" for f in files
    ]


def test_build_real_mix_refuses_a_corpus_that_is_not_the_locked_one(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(CONFIGS / "build_real_mix.py"),
            str(tmp_path),
            str(tmp_path / "empty"),
            str(tmp_path / "mix"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert "does not hold the locked real-extra corpus" in out.stderr and "--no-verify" in out.stderr
    assert not (tmp_path / "mix").exists()


def test_lock_takes_files_a_later_commit_deleted_and_renamed_files_by_content(tmp_path, clone):
    real_extra = _module()
    first = _git(clone, "rev-parse", "HEAD").strip()
    _git(clone, "rm", "-q", "dataset/real/0.png")
    _git(clone, "commit", "-q", "-m", "drop the crops")
    staged = tmp_path / "staged" / clone.name
    (staged / "dataset" / "real").mkdir(parents=True)
    (staged / "dataset" / "real" / "renamed.png").write_bytes(b"live crop")  # deleted at HEAD, renamed here
    files = real_extra.lock_from(staged.parent, clone.parent, {clone.name: first[:8]})
    assert [(f.commit, f.path) for f in files] == [(first, "dataset/real/renamed.png")]
    out = tmp_path / "real-extra"
    assert real_extra.assemble(clone.parent, out, files) == []
    assert (out / clone.name / "dataset/real/renamed.png").read_bytes() == b"live crop"

    (staged / "dataset" / "real" / "mine.png").write_bytes(b"not from the repository")
    with pytest.raises(ValueError, match="mine.png is no file of someone/liveness"):
        real_extra.lock_from(staged.parent, clone.parent)
