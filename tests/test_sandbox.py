"""The grading sandbox: a hand-in that tries each forbidden thing gets the expected failure.

One batch of three hand-ins of assignment 01, graded with the bubblewrap sandbox: a probe
that tries to read solutions/, the gradebook and another student's hand-in, to open network
connections, to write into the course and reports its limits; a hand-in that sleeps with
SIGINT ignored (stopped by the per-student wall-time cap); and an honest one (full marks).
"""

import json
import shutil
import warnings

import nbformat
import pytest
from conftest import require

from autograde import corpus, sandbox
from autograde.course import REPO_ROOT
from autograde.run import grade

AID = "01_activations"
PROBE = r'''
import json, os, resource, socket, subprocess
def _try(fn):
    try:
        fn()
        return "allowed"
    except BaseException as err:
        return type(err).__name__
def _read(path):
    with open(path, "rb") as fh:
        fh.read(1)
def _listdir(path):
    if not os.listdir(path):
        raise FileNotFoundError("empty")
def _connect(host):
    socket.create_connection((host, 80), timeout=3).close()
def _write(path):
    with open(path, "w") as fh:
        fh.write("x")
_probe = {
    "solutions_here": _try(lambda: _read("ROOT/solutions/AID/AID.ipynb")),
    "solutions_repo": _try(lambda: _read("REPO/solutions/AID/AID.ipynb")),
    "solutions_list": _try(lambda: _listdir("ROOT/solutions")),
    "gradebook": _try(lambda: _read("ROOT/autograde/gradebook.db")),
    "other_student": _try(lambda: _listdir("ROOT/autograde/submitted/honest")),
    "tests_dir": _try(lambda: _listdir("REPO/tests")),
    "git": _try(lambda: _listdir("REPO/.git")),
    "network_ip": _try(lambda: _connect("1.1.1.1")),
    "network_dns": _try(lambda: socket.getaddrinfo("pypi.org", 443)),
    "write_library": _try(lambda: _write("REPO/tnn/owned.py")),
    "interfaces": sorted(name for _, name in socket.if_nameindex()),
    "memory_cap": resource.getrlimit(resource.RLIMIT_AS)[0],
    "cpu_cap": resource.getrlimit(resource.RLIMIT_CPU)[0],
    "own_notebook": _try(lambda: _read("AID.ipynb")),
    "capabilities": [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0],
    "unmount": _try(lambda: subprocess.run(["umount", "ROOT/solutions"], check=True,
                                           capture_output=True)),
    "solutions_after_unmount": _try(lambda: _listdir("ROOT/solutions")),
}
print("PROBE " + json.dumps(_probe))
'''
STUCK = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(3600)\n"



@pytest.fixture
def needs_bwrap():
    require(sandbox.bwrap_available(), "the grading sandbox", sandbox.unavailable_reason(),
            f"{sandbox.INSTALL_COMMAND}, or run `make test` as root / with passwordless sudo")


@pytest.mark.slow
@pytest.mark.usefixtures("needs_bwrap")
@pytest.mark.xdist_group("sandbox")
def test_sandbox_enforces_each_restriction(tmp_path):
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / AID, tmp_path / folder / AID)
    submitted = tmp_path / "autograde" / "submitted"
    first = corpus.structure(AID)[0][0]
    good = corpus.filled_in(AID)
    probe = PROBE.replace("ROOT", str(tmp_path)).replace("REPO", str(REPO_ROOT)).replace("AID", AID)
    source = next(c.source for c in good.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    for student, code in {"probe": probe + source, "stuck": STUCK + source}.items():
        corpus.write(corpus.Case(student, {f"{AID}.ipynb": corpus.filled_in(AID, replace={first: code})}),
                     submitted, student, AID)
    corpus.write(corpus.Case("honest", {f"{AID}.ipynb": good}), submitted, "honest", AID)

    results = {r.student: r for r in grade(
        tmp_path, progress=False, jobs=2, feedback=False, sandbox=True, memory_mb=3072,
        student_timeout=60, config_overrides={"Execute.timeout": 300})}

    honest, probed, stuck = results["honest"], results["probe"], results["stuck"]
    assert honest.ok and probed.ok, (honest.error, probed.error)
    _, _, points = corpus.structure(AID)
    assert all(honest.cells[k][0] == p for k, p in points.items()), honest.cells
    assert probed.score == honest.score  # probing costs nothing here
    executed = nbformat.read(tmp_path / "autograde" / "autograded" / "probe" / AID / f"{AID}.ipynb",
                             as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    found = json.loads(text.split("PROBE ", 1)[1].splitlines()[0])
    for key in ("solutions_here", "solutions_repo", "solutions_list", "gradebook",
                "other_student", "tests_dir", "git"):
        assert found[key] in ("FileNotFoundError", "PermissionError", "IsADirectoryError"), (key, found)
    assert found["network_ip"] != "allowed" and found["network_dns"] != "allowed", found
    assert found["interfaces"] == ["lo"], found
    assert found["write_library"] == "OSError" or found["write_library"].endswith("Error"), found
    assert found["write_library"] != "allowed"
    # address space is only a backstop (the memory cap is the watchdog's, tested below)
    assert found["memory_cap"] == sandbox.ADDRESS_SPACE_BACKSTOP, found
    assert 0 < found["cpu_cap"] <= 600, found
    assert found["own_notebook"] == "allowed", found
    assert int(found["capabilities"], 16) == 0, found  # no CAP_SYS_ADMIN: hiding holds
    assert found["unmount"] != "allowed" and found["solutions_after_unmount"] != "allowed", found
    # the wall-time cap stops a kernel that ignores interrupts; the student is flagged
    assert not stuck.ok and "longer than 60" in stuck.error, stuck


def test_fallback_without_sandbox_warns_loudly(tmp_path):
    (tmp_path / "solutions").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert grade(tmp_path, progress=False, sandbox=False) == []
    assert any("NOT sandboxed" in str(w.message) for w in caught)


def test_kernelspec_hides_course_secrets(tmp_path):
    spec_dir = sandbox.write_kernelspec(tmp_path, roots=[REPO_ROOT], use_bwrap=True)
    kernel = spec_dir / "kernels" / sandbox.KERNEL_NAME
    spec = json.loads((kernel / "kernel.json").read_text())
    policy = json.loads((kernel / "policy.json").read_text())
    assert spec["argv"][1:3] == ["-m", "autograde.sandbox"] and "{connection_file}" in spec["argv"]
    assert spec["interrupt_mode"] == "message"
    for name in ("solutions", "tests", ".git", "autograde"):
        assert str(REPO_ROOT / name) in policy["hide"]
    assert policy["bwrap"] and policy["memory_mb"] > 0 and policy["cpu_seconds"] > 0


def test_a_course_cloned_under_tmp_keeps_its_environment(tmp_path):
    """The private /tmp must not hide the kernel's own environment and library (CI clones
    under /tmp): they are bound after it."""
    course = tmp_path / "clone"
    for name in ("solutions", "autograde/.work/s/a", ".venv", "tnn"):
        (course / name).mkdir(parents=True)
    course = str(course)
    assert course.startswith("/tmp/")
    policy = {"hide": sandbox.hidden_paths(course), "environment": [f"{course}/.venv"],
              "packages": [f"{course}/tnn"], "memory_mb": 64}
    cmd = sandbox.bwrap_command(policy, cwd=f"{course}/autograde/.work/s/a", runtime_dirs=[])
    pairs = list(zip(cmd, cmd[1:], cmd[2:], strict=False))
    tmpfs_tmp = list(zip(cmd, cmd[1:], strict=False)).index(("--tmpfs", "/tmp"))
    assert tmpfs_tmp < pairs.index(("--ro-bind", f"{course}/.venv", f"{course}/.venv"))
    assert tmpfs_tmp < pairs.index(("--ro-bind", f"{course}/tnn", f"{course}/tnn"))
    assert ("--ro-bind", course, course) not in pairs  # never the whole course
    assert not any(a.endswith("/solutions") for a in cmd)


def test_make_grade_refuses_to_grade_unsandboxed_unless_told(tmp_path, monkeypatch, capsys):
    from autograde import grade as cli

    corpus.write(next(iter(corpus.hostile(AID))), tmp_path / "autograde" / "submitted", "s1", AID)
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "bubblewrap (bwrap) is not installed")
    assert cli.main(["--root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "refusing" in err and "apt-get install -y bubblewrap" in err
    assert "GRADE_ARGS=--no-sandbox" in err and "not installed" in err


def test_make_grade_installs_the_sandbox_in_its_set_up():
    """The README's commands set the sandbox up; CI adds nothing a newcomer lacks."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    script = (REPO_ROOT / "tools" / "system-packages.sh").read_text()
    assert "grade: env system-grade" in makefile and "pytest: env system-test" in makefile
    assert "bubblewrap" in script and "chromium" in script
    assert "apt-get install" not in (REPO_ROOT / ".ci" / "run").read_text()


# ---- the machines instructors use, and students who probe the sandbox ----

ALLOW_PROBE = r'''
import json, os, glob
def _visible(path):
    return os.path.exists(path)
_conn = os.path.dirname(os.path.abspath(get_ipython().kernel.config["IPKernelApp"]["connection_file"]))
_probe = {
    "other_course": [p for p in ("REPO/solutions", "REPO/tests", "REPO/.git", "REPO/autograde",
                                 "ROOT/solutions", "ROOT/autograde/gradebook.db",
                                 "ROOT/autograde/submitted") if _visible(p)],
    "env": sorted(os.environ),
    "threads": os.environ.get("OMP_NUM_THREADS"),
    "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "connection_files": sorted(glob.glob("/tmp/**/kernel-*.json", recursive=True)
                               + glob.glob(os.path.dirname(_conn) + "/*/kernel-*.json")),
    "runtime_siblings": sorted(os.listdir(os.path.dirname(_conn))),
    "root": sorted(os.listdir("/")),
}
import torch
_probe["torch_threads"] = torch.get_num_threads()
print("PROBE " + json.dumps(_probe))
'''
RESERVE = ("import mmap\n_reserved = mmap.mmap(-1, 64 << 30, flags=mmap.MAP_PRIVATE | "
           "mmap.MAP_ANONYMOUS | 0x4000, prot=0)  # PROT_NONE, MAP_NORESERVE: a CUDA import\n")
CHILDREN = ("import multiprocessing as _mp, time as _time\n"
            "def _hog(n):\n    _x = bytearray(n << 20)\n    _time.sleep(60)\n"
            "_ps = [_mp.get_context('fork').Process(target=_hog, args=(400,)) for _ in range(5)]\n"
            "[_p.start() for _p in _ps]\n_time.sleep(30)\n")
TMP_FILL = ("for _i in range(8):\n    with open(f'/tmp/fill{_i}', 'wb') as _f:\n"
            "        _f.write(b'x' * (200 << 20))\nimport time as _time\n_time.sleep(10)\n")
FLOOD = ("from IPython.display import display as _display\n"
         "for _i in range(100_000):\n    _display(_i)\n")  # may hit the time limit: its cell
BIG_IMAGE = ("import base64 as _b\nfrom IPython.display import display as _display\n"
             "_display({'image/png': _b.b64encode(b'x' * (30 << 20)).decode()}, raw=True)\n"
             "_display({'text/plain': 'y' * (12 << 20)}, raw=True)\n")
HTML = ("from IPython.display import HTML as _H, Javascript as _J, display as _display\n"
        "_display(_H(\"<script>alert('stolen')</script><img src=x onerror=alert('img')>\"))\n"
        "_display(_J(\"alert('js')\"))\n")


def _executed_text(root, student):
    nb = nbformat.read(root / "autograde" / "autograded" / student / AID / f"{AID}.ipynb",
                       as_version=4)
    return nb, "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.usefixtures("needs_bwrap")
@pytest.mark.xdist_group("sandbox")
def test_limits_allow_list_and_outputs_from_the_students_side(tmp_path):
    """One batch: memory used (not reserved) is capped per kernel, children and /tmp
    included; a 64 GiB reservation keeps full marks; the kernel sees only its allow-list,
    a minimal environment, its share of threads and no GPU; outputs are capped per cell and
    per notebook and sanitized; symlinked hand-ins and invalid ids fail alone."""
    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / AID, tmp_path / folder / AID)
    submitted = tmp_path / "autograde" / "submitted"
    answers, tests_of, points = corpus.structure(AID)
    first = answers[0]
    good = corpus.filled_in(AID)
    source = next(c.source for c in good.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    probe = ALLOW_PROBE.replace("ROOT", str(tmp_path)).replace("REPO", str(REPO_ROOT))
    codes = {"probe": probe, "reserve": RESERVE, "children": CHILDREN, "tmp_fill": TMP_FILL,
             "flood": FLOOD, "big_image": BIG_IMAGE, "html": HTML}
    for student, code in codes.items():
        nb = corpus.filled_in(AID, replace={first: code + "\n" + source})
        if student == "html":
            nb.cells.append(nbformat.v4.new_markdown_cell(
                "answer <script>alert('md')</script> <img src=x onerror=alert('md')>"))
        corpus.write(corpus.Case(student, {f"{AID}.ipynb": nb}), submitted, student, AID)
    for student in ("honest", "template", "x" * 250):
        corpus.write(corpus.Case(student, {f"{AID}.ipynb": good}), submitted, student, AID)
    (submitted / "thief").mkdir()
    (submitted / "thief" / AID).symlink_to(submitted / "honest" / AID)
    (submitted / "cheat").mkdir()
    (submitted / "cheat" / AID).symlink_to(tmp_path / "solutions" / AID)

    results = {r.student: r for r in grade(
        tmp_path, progress=False, jobs=2, feedback=["html", "big_image"], sandbox=True,
        memory_mb=1536, student_timeout=240, config_overrides={"Execute.timeout": 60})}

    honest = results["honest"]
    assert honest.ok and not honest.flags, honest
    full = honest.cells
    # memory: reserved address space is free; memory used by children or /tmp is not
    assert results["reserve"].ok and results["reserve"].cells == full, results["reserve"]
    assert results["template"].ok and results["template"].cells == full
    for student in ("children", "tmp_fill"):
        r = results[student]
        assert not r.ok and "more than 1536 MB of memory" in r.error, r
        assert any("memory cap" in f for f in r.flags), r
    # allow-list, environment, threads, GPU
    _, text = _executed_text(tmp_path, "probe")
    found = json.loads(text.split("PROBE ", 1)[1].splitlines()[0])
    assert found["other_course"] == [], found
    allowed = set(sandbox.kernel_env({"threads": 1})) | {
        "PWD", "TERM", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "PAGER", "GIT_PAGER",
        "PYDEVD_USE_FRAME_EVAL", "JPY_PARENT_PID", "JPY_SESSION_NAME", *sandbox.PASSED_ENV}
    assert set(found["env"]) <= allowed, set(found["env"]) - allowed
    assert found["threads"] == str(sandbox.default_threads(2)), found
    assert found["torch_threads"] == sandbox.default_threads(2), found
    assert found["cuda_visible"] == "", found
    runtimes = [n for n in found["runtime_siblings"] if n.startswith("tnn-kernel-run-")]
    assert len(runtimes) == 1 and len(found["connection_files"]) <= 1, found
    assert not {"home", "srv", "mnt", "opt", "var"} & set(found["root"]), found
    assert results["probe"].cells == full
    # outputs: cut and flagged, the cell's own answer still graded, others untouched
    for student in ("flood", "big_image"):
        r = results[student]
        assert r.ok and any("output cut" in f for f in r.flags), r
        own = set(tests_of[first]) if student == "flood" else set()  # slow: may time out
        assert {k: v for k, v in r.cells.items() if k not in own} == {
            k: v for k, v in full.items() if k not in own}, (student, r.cells)
        graded = tmp_path / "autograde" / "autograded" / student / AID / f"{AID}.ipynb"
        assert graded.stat().st_size < 15_000_000, graded.stat().st_size
    feedback = tmp_path / "autograde" / "feedback" / "big_image" / AID / f"{AID}.html"
    assert feedback.stat().st_size < 15_000_000
    # student HTML and JavaScript never reach a browser: graded notebook and feedback
    nb, _ = _executed_text(tmp_path, "html")
    mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             for m in o.get("data", {})}
    assert not mimes & {"text/html", "application/javascript", "image/svg+xml"}, mimes
    assert "<script>alert" not in nb.cells[-1].source
    page = (tmp_path / "autograde" / "feedback" / "html" / AID / f"{AID}.html").read_text()
    for raw in ("<script>alert('stolen')", "<script>alert('md')", "onerror=alert('img')>",
                "<img src=x onerror", "alert('js')\n</script>"):
        assert raw not in page, raw
    # symlinked hand-in folders and invalid ids fail alone, with a flag; the batch goes on
    for student in ("thief", "cheat"):
        r = results[student]
        assert not r.ok and "symbolic link" in r.error and r.flags, r
    long_id = [r for s, r in results.items() if s.startswith("xxxx")]
    assert len(long_id) == 1 and not long_id[0].ok and "invalid student id" in long_id[0].error
    assert (tmp_path / "autograde" / "grades.csv").is_file()
    feedback_cheat = tmp_path / "autograde" / "feedback" / "cheat"
    assert not feedback_cheat.exists()


def test_memory_cap_counts_used_memory_not_address_space(tmp_path):
    """The watchdog's measure: a 64 GiB PROT_NONE reservation adds nothing; touched memory
    and a child's memory do."""
    import subprocess
    import sys
    import time

    reserve = subprocess.Popen([sys.executable, "-c", (
        "import mmap, time; m = mmap.mmap(-1, 64 << 30, flags=mmap.MAP_PRIVATE | "
        "mmap.MAP_ANONYMOUS | 0x4000, prot=0); print('ok', flush=True); time.sleep(30)")],
        stdout=subprocess.PIPE)
    hog = subprocess.Popen([sys.executable, "-c", (
        "import os, time\nif os.fork() == 0:\n    x = bytearray(300 << 20)\n    time.sleep(30)\n"
        "else:\n    print('ok', flush=True); time.sleep(30)")], stdout=subprocess.PIPE)
    try:
        assert reserve.stdout.readline().strip() == b"ok"
        assert hog.stdout.readline().strip() == b"ok"
        time.sleep(1.0)
        assert sandbox.memory_used(reserve.pid, []) < 200 * 2**20
        assert sandbox.memory_used(hog.pid, []) > 300 * 2**20
        assert len(sandbox.process_tree(hog.pid)) == 2
        (tmp_path / "f").write_bytes(b"x" * (5 << 20))
        assert sandbox.memory_used(reserve.pid, [str(tmp_path)]) > 5 * 2**20
    finally:
        for proc in (reserve, hog):
            sandbox.kill_tree(proc.pid)
            proc.wait()


def test_kernel_environment_is_explicit_and_gpu_is_opt_in(tmp_path):
    grader = {"SECRET_TOKEN": "x", "CUDA_VISIBLE_DEVICES": "0", "HOME": "/root",
              "TNN_GRADING_COURSE": "/c"}
    env = sandbox.kernel_env({"threads": 3, "library": "/lib/x"}, environ=grader)
    assert "SECRET_TOKEN" not in env and env["HOME"] == "/tmp" and env["PYTHONPATH"] == "/lib/x"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["MPLBACKEND"] == "Agg"
    assert sandbox.kernel_env({"gpu": True}, environ=grader)["CUDA_VISIBLE_DEVICES"] == "0"
    policy = {"hide": [], "environment": [], "packages": [], "memory_mb": 64}
    assert not any("nvidia" in a for a in sandbox.bwrap_command(policy, str(tmp_path), []))
    spec_dir = sandbox.write_kernelspec(tmp_path, roots=[REPO_ROOT], use_bwrap=True, gpu=True,
                                        gpu_fraction=0.25, threads=2)
    spec = json.loads((spec_dir / "kernels" / sandbox.KERNEL_NAME / "kernel.json").read_text())
    assert any("set_per_process_memory_fraction(0.2500)" in a for a in spec["argv"])
    assert sandbox.default_threads(jobs=10**6) == 1


def test_bwrap_command_is_an_allow_list(tmp_path):
    policy = {"hide": sandbox.hidden_paths(REPO_ROOT), "environment": sandbox.environment_paths(),
              "packages": [str(REPO_ROOT / "tnn")], "memory_mb": 512}
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    cmd = sandbox.bwrap_command(policy, str(tmp_path), [str(runtime)])
    binds = [cmd[i + 2] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")]
    assert "/" not in binds and str(REPO_ROOT) not in binds
    assert str(REPO_ROOT / "tnn") in binds and str(runtime) in binds
    assert ("--size", str(512 * 2**20), "--tmpfs", "/tmp") in set(zip(cmd, cmd[1:], cmd[2:], cmd[3:],
                                                                          strict=False))
    with pytest.raises(SystemExit, match="refusing"):
        sandbox.bwrap_command(policy, str(tmp_path), [str(REPO_ROOT)])


def test_invalid_student_ids_fail_alone(tmp_path):
    from autograde.run import plan

    for student in ("alice", "template", ".hidden", "-rf", "y" * 65, "bob smith"):
        (tmp_path / "autograde" / "submitted" / student / AID).mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "solutions" / AID, tmp_path / "solutions" / AID)
    the_plan = plan(tmp_path)
    assert sorted(the_plan.by_student) == ["alice", "template"]
    assert len(the_plan.unknown) == 4
    assert all("invalid student id" in r.error for r in the_plan.unknown)


@pytest.mark.slow
@pytest.mark.xdist_group("sandbox")
def test_grades_do_not_depend_on_the_gpu(tmp_path):
    """With a GPU present, the solution and the one-bug hand-in grade identically whether the
    kernels see the GPU (``--gpu``) or not (the default)."""
    import importlib.util

    if not sandbox.gpu_present():
        pytest.skip("needs an NVIDIA GPU: the --gpu comparison is pending on this machine")
    spec = importlib.util.spec_from_file_location("bug", REPO_ROOT / "tests" / "one_bug" / f"{AID}.py")
    bug = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bug)
    hand_ins = {"solution": corpus.filled_in(AID),
                "one_bug": corpus.filled_in(AID, replace={bug.CELL: bug.SOURCE.strip("\n")})}
    cells = {}
    for gpu in (False, True):
        course = tmp_path / f"gpu-{gpu}"
        for folder in ("solutions", "exercises"):
            shutil.copytree(REPO_ROOT / folder / AID, course / folder / AID)
        for student, nb in hand_ins.items():
            corpus.write(corpus.Case(student, {f"{AID}.ipynb": nb}),
                         course / "autograde" / "submitted", student, AID)
        results = grade(course, progress=False, jobs=2, feedback=False, gpu=gpu,
                        sandbox=None if sandbox.bwrap_available() else False,
                        config_overrides={"Execute.timeout": 120})
        assert all(r.ok for r in results), results
        cells[gpu] = {r.student: r.cells for r in results}
    assert cells[False] == cells[True]
    assert cells[False]["one_bug"] != cells[False]["solution"]
