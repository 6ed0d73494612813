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
    assert probed.score == honest.score == honest.max_score - 2  # probing costs nothing here
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
    assert found["memory_cap"] == 3072 * 2**20 and 0 < found["cpu_cap"] <= 600, found
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
    under /tmp), and what is hidden is hidden after they are bound back."""
    course = tmp_path / "clone"
    for name in ("solutions", "autograde/.work/s/a", ".venv"):
        (course / name).mkdir(parents=True)
    course = str(course)
    assert course.startswith("/tmp/")
    policy = {"hide": sandbox.hidden_paths(course), "keep": [course, f"{course}/.venv", "/usr"]}
    cmd = sandbox.bwrap_command(policy, cwd=f"{course}/autograde/.work/s/a", runtime_dirs=[])
    pairs = list(zip(cmd, cmd[1:], cmd[2:], strict=False))
    tmpfs_tmp = pairs.index(("--tmpfs", "/tmp", "--ro-bind"))
    keep = pairs.index(("--ro-bind", course, course))
    assert tmpfs_tmp < keep
    assert ("--ro-bind", "/usr", "/usr") not in pairs  # outside /tmp: already visible
    hide = list(zip(cmd, cmd[1:], strict=False)).index(("--tmpfs", f"{course}/solutions"))
    assert keep < hide


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
