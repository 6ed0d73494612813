"""``make student-bundle``: an archive of what students get, and nothing else.

Two editions:

- ``classroom`` (the default, ``dist/training-nn-student.tar.gz``): the course library is the
  handout's build (:mod:`autograde.handout`): no reference body for any function an
  assignment grades; where the field's libraries compute the same thing, the function
  delegates to them, so the lectures run and print the same numbers.
- ``self-study`` (``dist/training-nn-self-study.tar.gz``): the library with its references,
  for people learning alone who want to compare after trying.

Both hold the student README and Makefile (``autograde/handout/``: ``make lab`` and ``make
check``), pyproject.toml, environment.yml, lectures/, exercises/ (with each assignment's
``expected.json``, the expected values of its visible tests) and the library (tnn/). Left out:
solutions/, tests/ (their buggy submissions are answers too), autograde/ (gradebook, hand-ins,
feedback), benchmarks/, .git and anything git ignores. Before writing, every file is checked:
no nbgrader solution or hidden-test marker, and no line of a solution block or hidden test
that is not already public in the library or the released exercises. A leak stops the build.

    python -m autograde.bundle [--edition classroom|self-study] [--out PATH]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from autograde.course import REPO_ROOT

INCLUDE_FILES = ("README.md", "Makefile", "pyproject.toml", "environment.yml")
EDITIONS = ("classroom", "self-study")
OUT_NAMES = {"classroom": "training-nn-student.tar.gz",
             "self-study": "training-nn-self-study.tar.gz"}
HANDOUT = Path(__file__).with_name("handout")
EDITION_TEXT = {
    "classroom": (
        "Classroom handout",
        "This is the classroom handout. Its course library `tnn/` holds no implementation of "
        "the functions the exercises ask you to write: each keeps its name and docstring, "
        "and runs a library that computes the same thing (SciPy, PyTorch, scikit-learn; its "
        "docstring says which), so the lectures show the same numbers. The visible tests "
        "compare your functions with expected values stored beside each exercise "
        "(`expected.json`). A function that only calls the library's version of itself is "
        "told so by its test: that version is not there when your work is graded."),
    "self-study": (
        "Self-study edition",
        "This is the self-study edition: its course library `tnn/` includes the reference "
        "implementations of the functions the exercises ask you to write. Try each exercise "
        "first; then compare with the reference (`tnn/activations.py`, ...). The visible "
        "tests tell you when a function of yours only calls the library's version of "
        "itself."),
}
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


def student_readme(edition: str = "classroom") -> str:
    """The handout's README (autograde/handout/README.md) for ``edition``."""
    title, text = EDITION_TEXT[edition]
    template = (HANDOUT / "README.md").read_text()
    return template.replace("{edition_title}", title).replace("{edition_text}", text)


def _content(root: Path, f: Path, edition: str, library: Path | None) -> bytes:
    rel = f.relative_to(root)
    if rel == Path("README.md"):
        return student_readme(edition).encode()
    if rel == Path("Makefile"):
        return (HANDOUT / "Makefile").read_bytes()
    if library is not None and rel.parts[0] == "tnn":
        built = library / rel
        return built.read_bytes() if built.exists() else f.read_bytes()
    return f.read_bytes()


def _extra_files(root: Path, library: Path | None) -> list[Path]:
    """Files of the handout's library that the course library does not have."""
    if library is None:
        return []
    return sorted(p for p in (library / "tnn").rglob("*.py")
                  if not (root / p.relative_to(library)).exists())


def build(out: Path, root: Path = REPO_ROOT, edition: str = "classroom") -> Path:
    """Write the ``edition`` archive to ``out``; raise ``RuntimeError`` if anything would leak."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}; got {edition!r}.")
    secret = secret_lines(root)
    files = _candidates(root)
    with tempfile.TemporaryDirectory(prefix="tnn-handout-") as tmp:
        library = None
        if edition == "classroom":
            from autograde.handout import build_handout_library

            library = Path(tmp)
            build_handout_library(library, root)
        entries = [(str(f.relative_to(root)), _content(root, f, edition, library))
                   for f in files]
        entries += [(str(p.relative_to(library)), p.read_bytes())
                    for p in _extra_files(root, library)]
    problems = []
    for name, data in entries:
        problems += leaks(name, data, secret)
    if problems:
        raise RuntimeError("student bundle would leak:\n  " + "\n  ".join(problems[:20]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for name, data in sorted(entries):
            info = tarfile.TarInfo(f"{PREFIX}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=EDITIONS, default="classroom")
    parser.add_argument("--out", default=None,
                        help="default: dist/training-nn-student.tar.gz (classroom) or "
                             "dist/training-nn-self-study.tar.gz (self-study)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else REPO_ROOT / "dist" / OUT_NAMES[args.edition]
    out = build(out, edition=args.edition)
    with tarfile.open(out) as tar:
        n = len(tar.getnames())
    print(f"{args.edition} bundle: {out} ({n} files, {out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
