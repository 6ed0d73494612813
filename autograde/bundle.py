"""``make student-bundle``: an archive of what students get, and nothing else.

Included: README.md (without its instructor guide), Makefile, pyproject.toml, environment.yml, lectures/, exercises/ and
the course library (tnn/). Left out: solutions/, tests/ (their buggy submissions are
answers too), autograde/ (gradebook, hand-ins, feedback), benchmarks/, .git and anything
git ignores. Before writing, every file is checked: no nbgrader solution or hidden-test
marker, and no line of a solution block or hidden test that is not already public in the
library or the released exercises. A leak stops the build.

    python -m autograde.bundle [--out dist/training-nn-student.tar.gz]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
from pathlib import Path

from autograde.course import REPO_ROOT

INCLUDE_FILES = ("README.md", "Makefile", "pyproject.toml", "environment.yml")
INCLUDE_DIRS = ("lectures", "exercises", "tnn")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
PREFIX = "training-nn"


def _candidates(root: Path) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, check=True).stdout.decode().split("\0")
        files = [root / p for p in listed if p]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in root.rglob("*") if p.is_file()]
    keep = []
    for f in files:
        rel = f.relative_to(root)
        if not f.is_file() or "__pycache__" in rel.parts or rel.suffix == ".pyc":
            continue
        if ".ipynb_checkpoints" in rel.parts:
            continue
        if str(rel) in INCLUDE_FILES or rel.parts[0] in INCLUDE_DIRS:
            keep.append(f)
    return sorted(keep)


def secret_lines(root: Path = REPO_ROOT) -> set[str]:
    """Stripped lines inside solution blocks and hidden tests of every source notebook,
    except blank lines, comments, and lines the student versions show anyway."""
    import nbformat

    public = set()
    for f in (root / "exercises").rglob("*.ipynb"):
        for cell in nbformat.read(f, as_version=4).cells:
            public.update(line.strip() for line in cell.source.splitlines())
    for f in (root / "tnn").rglob("*.py"):
        public.update(line.strip() for line in f.read_text().splitlines())
    secret = set()
    for f in (root / "solutions").rglob("*.ipynb"):
        for cell in nbformat.read(f, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                s = line.strip()
                if any(m in s for m in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS")):
                    inside = True
                    continue
                if any(m in s for m in ("END SOLUTION", "END HIDDEN TESTS")):
                    inside = False
                    continue
                if inside and len(s) >= 8 and not s.startswith("#") and s not in public:
                    secret.add(s)
    return secret


def leaks(name: str, data: bytes, secret: set[str]) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    found = [f"{name}: marker {m!r}" for m in MARKERS if m in text]
    if name.endswith(".ipynb"):
        import nbformat

        lines = {line.strip() for c in nbformat.reads(text, as_version=4).cells
                 for line in c.source.splitlines()}
    else:
        lines = {line.strip() for line in text.splitlines()}
    found += [f"{name}: solution line {s!r}" for s in sorted(lines & secret)[:5]]
    return found


INSTRUCTOR_SECTIONS = ("## Instructor guide",)


def student_readme(text: str) -> str:
    """The README without its instructor-only sections (grading, solutions/ markers)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            skipping = line.strip() in INSTRUCTOR_SECTIONS
            if skipping:
                out.append(line.replace("guide", "guide (in the instructors' repository)"))
                out.append("\nThis copy of the course is the student edition.\n\n")
        if not skipping:
            out.append(line)
    return "".join(out)


def _content(root: Path, f: Path) -> bytes:
    if f.relative_to(root) == Path("README.md"):
        return student_readme(f.read_text()).encode()
    return f.read_bytes()


def build(out: Path, root: Path = REPO_ROOT) -> Path:
    """Write the student archive to ``out``; raise ``RuntimeError`` if anything would leak."""
    secret = secret_lines(root)
    files = _candidates(root)
    problems = []
    for f in files:
        problems += leaks(str(f.relative_to(root)), _content(root, f), secret)
    if problems:
        raise RuntimeError("student bundle would leak:\n  " + "\n  ".join(problems[:20]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for f in files:
            data = _content(root, f)
            info = tarfile.TarInfo(f"{PREFIX}/{f.relative_to(root)}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "dist" / "training-nn-student.tar.gz"))
    args = parser.parse_args(argv)
    out = build(Path(args.out))
    with tarfile.open(out) as tar:
        n = len(tar.getnames())
    print(f"student bundle: {out} ({n} files, {out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
