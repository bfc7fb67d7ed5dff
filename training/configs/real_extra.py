"""Assemble and check ``real-extra``, the public real-data folder the real-data recipes read.

``real-extra`` is never committed or shipped: it is rebuilt from the public repositories it came from. What
goes in it is pinned beside this script: ``real-extra.sources.tsv`` gives each folder's repository and
commit, ``real-extra.lock.tsv`` has one row per file: its folder, its path in that commit and its git blob id
(a content hash; a file renamed on the way in keeps its own name, pinned by content).
Files a source holds but the recipes must not read (code, weights, the tutorial's own sample crops) are
simply not in the lock.

    python training/configs/real_extra.py assemble CLONES OUT   # copy the locked files out of git clones
    python training/configs/real_extra.py verify OUT            # every locked file there, byte for byte?
    python training/configs/real_extra.py lock OUT CLONES [FOLDER=COMMIT ...]   # (maintainers) re-pin to OUT

``CLONES`` holds one git repository per source, named like its folder (``owner+name``): a clone
(``git clone https://github.com/owner/name owner+name``), a bare mirror, or ``owner+name/repo``. The lock's
commit must be in it. ``verify`` exits 1 and names what is missing, changed or unexpected, so a recipe never
trains on a silently different corpus; ``build_real_mix.py`` runs it first unless given ``--no-verify``.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LOCK = Path(__file__).with_name("real-extra.lock.tsv")
SOURCES = Path(__file__).with_name("real-extra.sources.tsv")
LOCK_COLUMNS = ("folder", "path", "blob")
SOURCE_COLUMNS = ("folder", "repo", "commit")


@dataclass(frozen=True)
class LockedFile:
    folder: str
    repo: str
    commit: str
    path: str
    blob: str


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's content (``git hash-object``), so a lock row can be checked without git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[dict]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if tuple(reader.fieldnames or ()) != columns:
            raise ValueError(f"{path}: columns must be {', '.join(columns)}")
        return list(reader)


def read_lock(lock: Path = LOCK, sources: Path = SOURCES) -> list[LockedFile]:
    source_of = {r["folder"]: r for r in _read_tsv(sources, SOURCE_COLUMNS)}
    files = []
    for r in _read_tsv(lock, LOCK_COLUMNS):
        if r["folder"] not in source_of:
            raise ValueError(f"{lock}: folder {r['folder']} is not in {sources}")
        s = source_of[r["folder"]]
        files.append(LockedFile(r["folder"], s["repo"], s["commit"], r["path"], r["blob"]))
    return files


def write_lock(files: list[LockedFile], lock: Path = LOCK, sources: Path = SOURCES) -> None:
    with open(sources, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(SOURCE_COLUMNS)
        w.writerows(sorted({(f.folder, f.repo, f.commit) for f in files}))
    with open(lock, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(LOCK_COLUMNS)
        w.writerows(sorted((f.folder, f.path, f.blob) for f in files))


def find_git_dir(clones: Path, folder: str) -> Path | None:
    for candidate in (clones / folder / ".git", clones / folder / "repo" / ".git", clones / folder / "repo"):
        if candidate.is_dir():
            return candidate
    bare = clones / folder
    return bare if (bare / "HEAD").is_file() and (bare / "objects").is_dir() else None


def _git(git_dir: Path, *args: str, binary: bool = False):
    out = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=False)
    return out if binary else out.stdout.decode().strip()


def check(real_extra: Path, files: list[LockedFile]) -> dict[str, list[str]]:
    """Missing, changed and unexpected files of ``real_extra`` against the lock (relative paths)."""
    report: dict[str, list[str]] = {"missing": [], "changed": [], "unexpected": []}
    locked = {f"{f.folder}/{f.path}": f.blob for f in files}
    for rel, blob in locked.items():
        path = real_extra / rel
        if not path.is_file():
            report["missing"].append(rel)
        elif git_blob_id(path.read_bytes()) != blob:
            report["changed"].append(rel)
    for folder in sorted({f.folder for f in files}):
        for path in sorted((real_extra / folder).rglob("*")):
            rel = path.relative_to(real_extra).as_posix()
            if path.is_file() and rel not in locked:
                report["unexpected"].append(rel)
    return report


def verify(real_extra: Path, files: list[LockedFile] | None = None) -> str:
    """Empty when ``real_extra`` holds exactly the locked files; otherwise what is wrong and what to do."""
    files = read_lock() if files is None else files
    report = check(real_extra, files)
    problems = [f"{len(v)} {k} (e.g. {', '.join(v[:3])})" for k, v in report.items() if v]
    if not problems:
        return ""
    return (
        f"{real_extra} does not hold the locked real-extra corpus ({len(files)} files): "
        + "; ".join(problems)
        + ". Rebuild it: python training/configs/real_extra.py assemble CLONES "
        + f"{real_extra} (see the script's docstring for CLONES)."
    )


def assemble(clones: Path, out: Path, files: list[LockedFile] | None = None) -> list[str]:
    """Write every locked file from its clone into ``out``; the files that could not be had."""
    files = read_lock() if files is None else files
    absent = []
    git_dirs = {folder: find_git_dir(clones, folder) for folder in {f.folder for f in files}}
    for f in files:
        git_dir = git_dirs[f.folder]
        content = _git(git_dir, "cat-file", "blob", f.blob, binary=True) if git_dir else None
        if content is None or content.returncode != 0:
            absent.append(f"{f.folder}/{f.path}")
            continue
        target = out / f.folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.stdout)
    return absent


def lock_from(real_extra: Path, clones: Path, commits: dict[str, str] | None = None) -> list[LockedFile]:
    """Lock rows for every file now in ``real_extra``; each must be an object of its clone. A folder's commit
    is its clone's HEAD unless ``commits`` names the one its files were taken at (files a later commit
    deleted). Files keep their own names, so a crop renamed on the way in is still pinned by content."""
    files = []
    for folder_dir in sorted(p for p in real_extra.iterdir() if p.is_dir()):
        git_dir = find_git_dir(clones, folder_dir.name)
        if git_dir is None:
            raise ValueError(f"no git repository for {folder_dir.name} in {clones}")
        commit = _git(git_dir, "rev-parse", (commits or {}).get(folder_dir.name, "HEAD"))
        repo = folder_dir.name.replace("+", "/", 1)
        for path in sorted(p for p in folder_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(folder_dir).as_posix()
            blob = git_blob_id(path.read_bytes())
            if _git(git_dir, "cat-file", "-t", blob) != "blob":
                raise ValueError(f"{folder_dir.name}/{rel} is no file of {repo}'s history")
            files.append(LockedFile(folder_dir.name, repo, commit, rel, blob))
    return files


def main(argv: list[str]) -> int:
    usage = "usage: real_extra.py assemble CLONES OUT | verify OUT | lock OUT CLONES [FOLDER=COMMIT ...]"
    if not argv or argv[0] not in ("assemble", "verify", "lock"):
        print(usage, file=sys.stderr)
        return 2
    command = argv[0]
    commits = dict(a.split("=", 1) for a in argv[3:] if "=" in a) if command == "lock" else {}
    args = [Path(a) for a in argv[1:] if "=" not in a]
    if len(args) != {"assemble": 2, "verify": 1, "lock": 2}[command]:
        print(usage, file=sys.stderr)
        return 2
    if command == "assemble":
        absent = assemble(*args)
        if absent:
            print(
                f"real_extra: {len(absent)} locked files could not be had from {args[0]} "
                f"(e.g. {', '.join(absent[:3])}): clone their repositories there",
                file=sys.stderr,
            )
            return 1
        print(f"real_extra: {args[1]} assembled")
    elif command == "lock":
        files = lock_from(*args, commits)
        write_lock(files)
        print(f"real_extra: {LOCK} pinned to {len(files)} files of {len({f.folder for f in files})} sources")
        return 0
    problem = verify(args[-1])
    if problem:
        print(f"real_extra: {problem}", file=sys.stderr)
        return 1
    print(f"real_extra: {args[-1]} holds the locked corpus")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
