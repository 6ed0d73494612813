"""`make site`: the course as a static website (Jupyter Book), built once into tmp_path.

The build goes through the real target (``make site SITE_OUT=... SITE_CONFIG=...``) with
warnings as errors, and with this test process's ``MPLBACKEND=Agg`` still exported, so it also
checks that the target keeps the shell's backend away from the kernels.

Cost: executing every lecture takes several minutes on a busy 2-core machine, and
tests/test_notebooks.py already executes every lecture headless and checks each figure. So the
test's configuration is site/_config.yml with one change: only lecture 01 is executed (the
others are rendered from their committed, output-free source). Lecture 01's page must carry an
image for every ``plt.show()``; every lecture's page must exist, with its glossary, in the
navigation and on the course map.
"""

import importlib.util
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted(ROOT.glob("lectures/[0-9][0-9]_*.ipynb"))
EXECUTED = ROOT / "lectures" / "01_activations.ipynb"  # the one lecture the test executes
EXERCISES = sorted(ROOT.glob("exercises/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site")]


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """Build the site once; return its html folder."""
    require(importlib.util.find_spec("jupyter_book") is not None, "site test",
            "jupyter-book is not installed", "make env (pip install -e '.[dev]')")
    import yaml

    tmp = tmp_path_factory.mktemp("site")
    config = yaml.safe_load((ROOT / "site" / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = [
        f"lectures/{p.name}" for p in LECTURES if p != EXECUTED]
    (tmp / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.monotonic()
    out = subprocess.run(["make", "--no-print-directory", "site", f"SITE_OUT={tmp / 'out'}",
                          f"SITE_CONFIG={tmp / '_config.yml'}"],
                         cwd=ROOT, capture_output=True, text=True)  # MPLBACKEND=Agg stays set
    print(f"site built in {time.monotonic() - start:.0f} s")
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return tmp / "out" / "_build" / "html"


def _page(html: Path, lecture: Path) -> str:
    page = html / "lectures" / f"{lecture.stem}.html"
    assert page.is_file(), f"no page for {lecture.name}"
    return page.read_text()


def _shows(lecture: Path) -> int:
    import nbformat

    nb = nbformat.read(lecture, as_version=4)
    return sum(c.source.count("plt.show()") for c in nb.cells if c.cell_type == "code")


def test_site_opens_on_the_course_map(html):
    root = (html / "index.html").read_text()
    assert "site/index.html" in root  # the root redirects to the course map
    index = (html / "site" / "index.html").read_text()
    assert "Course map" in index
    for lecture in LECTURES:
        assert f'href="../lectures/{lecture.stem}.html"' in index, (
            f"the course map (site/index.md) does not link {lecture.name}")
        assert f'href="../lectures/{lecture.stem}.html#glossary"' in index, (
            f"the course map does not link {lecture.name}'s glossary")
    for exercise in EXERCISES:
        topic = exercise.stem[:2]
        assert f'href="exercises.html#exercise-{topic}"' in index, exercise


def test_every_lecture_has_a_page_with_its_glossary_and_navigation(html):
    for position, lecture in enumerate(LECTURES):
        page = _page(html, lecture)
        assert 'id="glossary"' in page, f"{lecture.name}: no Glossary section on its page"
        # every lecture is in the sidebar, and previous / next lead through them in order
        for other in LECTURES:
            if other == lecture:
                continue
            assert f'href="{other.stem}.html"' in page, (lecture.name, other.name)
        if position > 0:
            assert re.search(rf'class="left-prev"\s+href="{LECTURES[position - 1].stem}.html"',
                             page), f"{lecture.name}: no link to the previous lecture"
        if position < len(LECTURES) - 1:
            assert re.search(rf'class="right-next"\s+href="{LECTURES[position + 1].stem}.html"',
                             page), f"{lecture.name}: no link to the next lecture"


def test_executed_lecture_page_carries_its_figures_and_outputs(html):
    page = _page(html, EXECUTED)
    figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', page)
    assert len(figures) >= _shows(EXECUTED), (
        f"{EXECUTED.name}: {len(figures)} figure(s) on its page for {_shows(EXECUTED)} "
        f"plt.show() calls (figures not inline during the build?)")
    for src in figures:
        assert (html / "lectures" / src).resolve().is_file(), src
    assert "device:" in page  # the set-up cell's printed output
    assert "application/vnd.jupyter.widget-state+json" in page  # the explorer's first view
    assert "Traceback" not in page


def test_exercises_page_offers_every_exercise_notebook(html):
    page = (html / "site" / "exercises.html").read_text()
    for exercise in EXERCISES:
        links = re.findall(rf'href="(\.\./_downloads/[^"]+/{exercise.name})"', page)
        assert links, f"no download link for {exercise.name}"
        assert (html / "site" / links[0]).resolve().is_file(), links[0]
        assert f'id="exercise-{exercise.stem[:2]}"' in page, exercise
