"""The course as a student sees it: JupyterLab started by ``make lab``, driven in a real browser.

Headless execution (tests/test_notebooks.py) cannot see what the browser shows: an exported
``MPLBACKEND=Agg`` runs every cell without error and draws nothing. Here Chromium, driven by
Playwright, opens the notebooks in the JupyterLab that ``make lab`` serves and checks

- lecture 01, Run All: no traceback, an image for every ``plt.show()`` (counted in the
  notebook's source, cell by cell) and for every explorer, and the explorer redraws when a
  slider moves under the keyboard;
- the other lectures: they open on the course kernel and draw their first figure inline;
- exercise 01: a wrong sigmoid gets the student-facing message from its visible test;
- the Nbgrader menus (Assignment List, Course List, Formgrader) open without an error.

The browser is Debian's ``chromium`` (never ``playwright install``). The lab runs with its own
settings folder (autosave off) and workspace folder, so the run writes nothing into the course's
notebooks or the user's JupyterLab state. On failure a screenshot lands in the test's tmp_path.
"""

import contextlib
import importlib.util
import json
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from _lab import TOKEN, running_lab
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
FULL_LECTURE = "lectures/01_activations.ipynb"  # run in full; the others are smoke-tested
OTHER_LECTURES = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("lectures/*.ipynb")
                        if str(p.relative_to(ROOT)) != FULL_LECTURE)
EXERCISE = "exercises/01_activations/01_activations.ipynb"
RUN_SECONDS = 300  # a lecture promises < 60 s headless; the browser and a busy machine add to it

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _cells(path: str) -> list[dict]:
    """The notebook's cells as JupyterLab will show them (read when the test opens it)."""
    cells = json.loads((ROOT / path).read_text())["cells"]
    return [{"type": c["cell_type"], "source": "".join(c["source"])} for c in cells]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as `make lab` starts it, on a free port; yields its base URL."""
    require(importlib.util.find_spec("playwright") is not None, "browser test",
            "the Python package playwright is not installed",
            "make env (it installs the dev extras: pip install -e '.[dev]')")
    require(_chromium() is not None, "browser test", "no chromium on PATH",
            "sudo apt-get install -y chromium (make test installs it when run as root "
            "or with passwordless sudo)")
    state = tmp_path_factory.mktemp("lab-state")
    # Autosave off and no news pop-up; the lab's settings and workspaces live in tmp, so the
    # test never saves outputs into the course or changes the user's own JupyterLab layout.
    for plugin, settings in [("docmanager-extension/plugin", {"autosave": False}),
                             ("apputils-extension/notification", {"fetchNews": "false"})]:
        target = state / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings))
    # As a student's shell: no MPLBACKEND (conftest sets Agg for the headless tests).
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    with running_lab(ROOT, state, env) as base:
        yield base


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        chromium = p.chromium.launch(executable_path=_chromium(), args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def page(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    yield page
    page.close()
    # Shut the test's kernels down (JupyterLab keeps them after the tab goes): less load.
    with urllib.request.urlopen(f"{lab}/api/sessions?token={TOKEN}", timeout=30) as response:
        sessions = json.loads(response.read())
    for session in sessions:
        request = urllib.request.Request(
            f"{lab}/api/sessions/{session['id']}?token={TOKEN}", method="DELETE")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=30).close()


@contextlib.contextmanager
def screenshot_on_failure(page, tmp_path):
    try:
        yield
    except BaseException:
        shot = tmp_path / "failure.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        raise


# ----------------------------------------------------------------------------- helpers


def open_notebook(page, lab: str, path: str):
    """Open ``path`` alone (a reset workspace), wait for every cell and an idle kernel.

    Returns (the notebook panel's cells as a locator, the notebook's cells from disk).
    """
    cells = _cells(path)
    page.goto(f"{lab}/lab/tree/{path}?reset&token={TOKEN}")
    status = page.locator("#jp-main-statusbar")
    status.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#jp-main-statusbar').innerText.includes('| Idle')",
        timeout=120_000)
    panel_id = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").get_attribute(
        "data-id")
    dom_cells = page.locator(f"[id='{panel_id}'] .jp-Notebook .jp-Cell")
    # JupyterLab attaches long notebooks' cells progressively: wait for all of them.
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n",
                           arg=[f"[id='{panel_id}'] .jp-Notebook .jp-Cell", len(cells)])
    assert "Python (training-nn)" in status.inner_text(), status.inner_text()
    return dom_cells, cells


def wait_until_executed(page, dom_cells, indices, timeout_s=RUN_SECONDS):
    """Wait until each code cell in ``indices`` shows an execution count and the kernel idles."""
    page.wait_for_function(
        """([cells, indices]) => {
            const done = indices.every(i => /\\[\\d+\\]/.test(
                cells[i].querySelector('.jp-InputPrompt').textContent));
            return done && document.querySelector('#jp-main-statusbar').innerText
                .includes('| Idle');
        }""",
        arg=[dom_cells.element_handles(), indices], timeout=timeout_s * 1000, polling=500)


def run_from_top(page, dom_cells, last: int):
    """Shift+Enter from the first cell through cell ``last``, as a student steps through."""
    dom_cells.nth(0).locator(".jp-Cell-inputWrapper").click()
    page.keyboard.press("Escape")  # command mode
    for _ in range(last + 1):
        page.keyboard.press("Shift+Enter")


def tracebacks(dom_cells) -> list[str]:
    """Error outputs (JupyterLab renders them, like stderr, as application/vnd.jupyter.stderr)."""
    texts = dom_cells.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    ).evaluate_all("es => es.map(e => e.textContent)")
    return [t for t in texts if "Traceback" in t or re.search(r"^\w+Error\b", t, re.M)]


def images_per_cell(dom_cells) -> list[int]:
    return dom_cells.evaluate_all(
        "cs => cs.map(c => c.querySelectorAll('.jp-RenderedImage img').length)")


def code_indices(cells) -> list[int]:
    return [i for i, c in enumerate(cells) if c["type"] == "code" and c["source"].strip()]


def shows(cell) -> int:
    return cell["source"].count("plt.show()") if cell["type"] == "code" else 0


def is_explorer(cell) -> bool:
    return cell["type"] == "code" and "_explorer(" in cell["source"]


def outputs_on_disk(path: str) -> int:
    return sum(len(c.get("outputs", [])) for c in json.loads((ROOT / path).read_text())["cells"])


# ----------------------------------------------------------------------------- tests


def test_lecture_runs_all_with_its_figures_and_a_live_explorer(lab, page, tmp_path):
    with screenshot_on_failure(page, tmp_path):
        dom_cells, cells = open_notebook(page, lab, FULL_LECTURE)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        start = time.monotonic()
        wait_until_executed(page, dom_cells, code_indices(cells))
        print(f"{FULL_LECTURE}: Run All took {time.monotonic() - start:.0f} s in the browser")

        assert not tracebacks(dom_cells), tracebacks(dom_cells)[0][-2000:]
        # Every plt.show() shows an image in its own cell; every explorer shows one more.
        counts = images_per_cell(dom_cells)
        for index, cell in enumerate(cells):
            expected = shows(cell) + is_explorer(cell)
            assert counts[index] >= expected, (
                f"{FULL_LECTURE} cell {index} should show {expected} image(s) "
                f"({shows(cell)} plt.show()) but the browser shows {counts[index]}: are "
                f"figures inline? (an exported MPLBACKEND turns them off)")
        explorers = [i for i, c in enumerate(cells) if is_explorer(c)]
        assert explorers, f"{FULL_LECTURE} has no explorer"
        expected_total = sum(shows(c) for c in cells) + len(explorers)
        assert sum(counts) >= expected_total, (sum(counts), expected_total)

        # Move one control of each explorer with the keyboard; its picture must change.
        for index in explorers:
            cell = dom_cells.nth(index)
            image = cell.locator(".jupyter-widgets .jp-RenderedImage img").first
            image.wait_for()
            before = image.get_attribute("src")
            handle = cell.locator(".widget-slider .noUi-handle").first
            if handle.count():
                handle.scroll_into_view_if_needed()
                handle.focus()
                at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute(
                    "aria-valuemax")
                page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            else:
                select = cell.locator(".widget-dropdown select").first
                options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
                current = select.input_value()
                select.select_option(next(o for o in options if o != current))
            start = time.monotonic()
            page.wait_for_function(
                """([cell, old]) => {
                    const img = cell.querySelector('.jupyter-widgets .jp-RenderedImage img');
                    return img && img.src !== old;
                }""", arg=[cell.element_handle(), before], timeout=30_000)
            print(f"explorer in cell {index}: redrawn {time.monotonic() - start:.2f} s "
                  f"after the key press")
        assert not tracebacks(dom_cells), tracebacks(dom_cells)[0][-2000:]
        # Nothing was saved: the course's notebook still holds no outputs.
        assert outputs_on_disk(FULL_LECTURE) == 0


@pytest.mark.parametrize("path", OTHER_LECTURES)
def test_other_lectures_open_and_draw_their_first_figure(lab, page, tmp_path, path):
    """Smoke test: the lecture opens on the course kernel and its first figure shows inline."""
    with screenshot_on_failure(page, tmp_path):
        dom_cells, cells = open_notebook(page, lab, path)
        first_plot = next(i for i, c in enumerate(cells) if shows(c))
        run_from_top(page, dom_cells, first_plot)
        wait_until_executed(page, dom_cells,
                            [i for i in code_indices(cells) if i <= first_plot])
        assert not tracebacks(dom_cells), tracebacks(dom_cells)[0][-2000:]
        counts = images_per_cell(dom_cells)
        assert counts[first_plot] >= shows(cells[first_plot]), (
            f"{path} cell {first_plot} calls plt.show() {shows(cells[first_plot])} time(s) but "
            f"the browser shows {counts[first_plot]} image(s)")
        assert outputs_on_disk(path) == 0


def test_exercise_answers_a_wrong_sigmoid_with_a_message(lab, page, tmp_path):
    with screenshot_on_failure(page, tmp_path):
        dom_cells, cells = open_notebook(page, lab, EXERCISE)
        solution = next(i for i, c in enumerate(cells) if c["type"] == "code"
                        and "def sigmoid(" in c["source"]
                        and "raise NotImplementedError()" in c["source"])
        visible_test = next(i for i, c in enumerate(cells) if i > solution
                            and "check_function(sigmoid," in c["source"])
        # A plausible mistake: the x >= 0 branch used everywhere (wrong for negative x).
        editor = dom_cells.nth(solution).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text("def sigmoid(x):\n    x = np.asarray(x)\n"
                                  "    return 1 / (1 + np.exp(-np.abs(x)))\n")
        run_from_top(page, dom_cells, visible_test)
        wait_until_executed(page, dom_cells,
                            [i for i in code_indices(cells) if i <= visible_test])
        output = dom_cells.nth(visible_test).locator(".jp-OutputArea").first
        text = output.evaluate("e => e.textContent")
        assert "sigmoid is wrong" in text, text[-3000:]
        assert "expected" in text and "Hint" in text, text[-3000:]
        # What the student sees around the message (reported; tnn.grading keeps it short).
        lines = text.strip().splitlines()
        frames = len(re.findall(r"^(?:File|Cell) ", text, re.M))
        print(f"{EXERCISE}: the failing visible test shows {len(lines)} lines, "
              f"{frames} frame(s)")
        assert frames == 0 and "grading.py" not in text, text[:3000]  # the message alone
        # Cells before the visible test ran cleanly (the set-up, the student's function).
        assert not [t for t in tracebacks(dom_cells) if "sigmoid is wrong" not in t]
        assert outputs_on_disk(EXERCISE) == 0


def test_nbgrader_menus_open_without_an_error(lab, page, tmp_path):
    with screenshot_on_failure(page, tmp_path):
        page.goto(f"{lab}/lab?reset&token={TOKEN}")
        page.locator("#jp-main-statusbar").wait_for()

        def open_from_menu(item):
            page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
            page.get_by_role("menuitem", name=item, exact=True).click()
            panel_id = page.locator(
                "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").get_attribute("data-id")
            return page.locator(f"[id='{panel_id}']")

        # Assignment List: the course list loads (it says "Error fetching courses!" and the
        # lists show an error about the exchange directory when that folder is missing).
        panel = open_from_menu("Assignment List")
        courses = panel.locator("#course_list_default")
        page.wait_for_function(
            "e => e.textContent.trim() && !/loading/i.test(e.textContent)",
            arg=courses.element_handle(), timeout=30_000)
        page.wait_for_timeout(1000)  # the three lists load after the course list
        text = panel.inner_text()
        assert "rror" not in text and "exchange directory" not in text, text
        for which in ("released", "fetched", "submitted"):
            assert not panel.locator(f"#{which}_assignments_list_error").is_visible(), text

        panel = open_from_menu("Course List")
        panel.get_by_text("Available formgraders").wait_for()
        assert "rror" not in panel.inner_text(), panel.inner_text()

        panel = open_from_menu("Formgrader")
        frame = panel.frame_locator("iframe")
        frame.get_by_text("Manage Assignments").first.wait_for()
        body = frame.locator("body").inner_text()
        assert "rror" not in body, body[:2000]
        for lecture in sorted(ROOT.glob("solutions/[0-9][0-9]_*")):
            frame.get_by_text(lecture.name, exact=True).wait_for()
