"""The course maps, rendered from the one topic list (:data:`tnn.topics.TOPICS`).

Each map lives in a Markdown file between ``<!-- topics:begin -->`` and
``<!-- topics:end -->``; :func:`write` (run by ``make assignments``) rewrites what lies
between, and ``tests/test_environment.py`` fails when a map is stale. Adding a topic is one
line in tnn/topics.py: the README, the website, the handout's README and the benchmark list
follow.
"""

from __future__ import annotations

import re
from pathlib import Path

from autograde.course import REPO_ROOT
from tnn.topics import PLANNED, TOPICS

BEGIN, END = "<!-- topics:begin -->", "<!-- topics:end -->"


def _planned() -> str:
    return f"Planned next: {', '.join(PLANNED)}." if PLANNED else ""


def _module(root: Path, name: str) -> str:
    return f"tnn/{name}/" if (root / "tnn" / name).is_dir() else f"tnn/{name}.py"


def readme(root: Path) -> str:
    rows = ["| # | topic | lecture | exercise (student) | library module | tests |",
            "|---|---|---|---|---|---|"]
    for t in TOPICS:
        lecture, exercise = f"lectures/{t.stem}.ipynb", f"exercises/{t.stem}/"
        module, tests = _module(root, t.name), f"tests/test_{t.name}.py"
        rows.append(f"| {t.number} | {t.title} | [{lecture}]({lecture}) | [{exercise}]({exercise}) "
                    f"| [{module}]({module}) | [{tests}]({tests}) |")
    return "\n".join(rows) + "\n\n" + _planned()


def site_index(root: Path) -> str:
    rows = ["| # | topic | lecture | glossary | exercise |", "|---|---|---|---|---|"]
    for t in TOPICS:
        rows.append(f"| {t.number} | {t.title} | [Lecture {t.number}](../lectures/{t.stem}.ipynb) "
                    f"| <a href=\"../lectures/{t.stem}.html#glossary\">glossary</a> "
                    f"| {{ref}}`exercise {t.number} <exercise-{t.number}>` |")
    return "\n".join(rows) + "\n\n" + _planned()


def site_exercises(root: Path) -> str:
    parts = []
    for t in TOPICS:
        notebook = f"exercises/{t.stem}/{t.stem}.ipynb"
        parts.append(f"(exercise-{t.number})=\n## Exercise {t.number}: {t.title}\n\n"
                     f"{{download}}`Download the notebook <../{notebook}>`\n"
                     f"(in the course: `{notebook}`). Lecture:\n"
                     f"[Lecture {t.number}](../lectures/{t.stem}.ipynb).")
    return "\n\n".join(parts)


def handout_readme(root: Path) -> str:
    rows = ["| # | topic | lecture | exercise |", "|---|---|---|---|"]
    for t in TOPICS:
        rows.append(f"| {t.number} | {t.title} | `lectures/{t.stem}.ipynb` "
                    f"| `exercises/{t.stem}/{t.stem}.ipynb` |")
    return "\n".join(rows)


def benchmarks(root: Path) -> str:
    lines = []
    for t in TOPICS:
        script = f"benchmarks/bench_{t.name}.py"
        if (root / script).is_file():
            lines.append(f".venv/bin/python {script:<36} # topic {t.number}: {t.title}")
    grading = "benchmarks/bench_grading.py --n 40"
    lines.append(f".venv/bin/python {grading:<36} # grading: sequential nbgrader vs ours")
    return "```bash\n" + "\n".join(lines) + "\n```"


#: file -> renderer of the text between its markers
MAPS = {
    "README.md": readme,
    "site/index.md": site_index,
    "site/exercises.md": site_exercises,
    "autograde/handout/README.md": handout_readme,
    "benchmarks/README.md": benchmarks,
}

_BLOCK = re.compile(re.escape(BEGIN) + r"\n.*?\n" + re.escape(END), re.S)


def rendered(path: str, root: Path = REPO_ROOT) -> str:
    """The text of ``root/path`` with its map rendered from the topic list."""
    text = (root / path).read_text()
    if len(_BLOCK.findall(text)) != 1:
        raise ValueError(f"{path} must hold exactly one {BEGIN} ... {END} block")
    block = f"{BEGIN}\n{MAPS[path](root)}\n{END}"
    return _BLOCK.sub(lambda _m: block, text)


def stale(root: Path = REPO_ROOT) -> list[str]:
    """The files whose course map differs from the topic list."""
    return [p for p in MAPS if rendered(p, root) != (root / p).read_text()]


def write(root: Path = REPO_ROOT) -> list[str]:
    """Rewrite every stale map; return the files written."""
    written = stale(root)
    for path in written:
        (root / path).write_text(rendered(path, root))
    return written


if __name__ == "__main__":
    print("\n".join(f"rewrote the course map in {p}" for p in write()) or "course maps up to date")
